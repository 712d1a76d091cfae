/**
 * ECharts, tree-shaken to what the app draws (bar and line charts on a canvas). Animation is off everywhere: the
 * charts are redrawn on every layer step and progress event, and tweening big series costs more than it shows.
 */
import { BarChart, LineChart } from 'echarts/charts';
import { DatasetComponent, GridComponent, LegendComponent, MarkLineComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import { use } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

use([CanvasRenderer, BarChart, LineChart, GridComponent, TooltipComponent, LegendComponent, TitleComponent, DatasetComponent, MarkLineComponent]);

/** Options every chart starts from. */
export const BASE_OPTION = {
  animation: false,
  textStyle: { fontFamily: 'system-ui, sans-serif' },
  // Hover effects on a separate layer only up to this many elements (≤ progressiveThreshold, STYLE.md).
  hoverLayerThreshold: 3000,
  progressiveThreshold: 3000,
} as const;
