/**
 * ECharts, tree-shaken to what the app draws (bar, line, scatter and custom series on a canvas). Animation is off
 * everywhere: the charts are redrawn on every layer step and progress event, and tweening big series costs more than
 * it shows.
 */
import { BarChart, CustomChart, LineChart, ScatterChart } from 'echarts/charts';
import {
  DataZoomComponent,
  DatasetComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
} from 'echarts/components';
import { use } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

use([
  CanvasRenderer,
  BarChart,
  LineChart,
  ScatterChart,
  CustomChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  TitleComponent,
  DatasetComponent,
  MarkLineComponent,
  DataZoomComponent,
]);

/** Options every chart starts from. */
export const BASE_OPTION = {
  animation: false,
  textStyle: { fontFamily: 'system-ui, sans-serif' },
  // Hover effects on a separate layer only up to this many elements (≤ progressiveThreshold, STYLE.md).
  hoverLayerThreshold: 3000,
  progressiveThreshold: 3000,
} as const;

/** Axis and label grey with at least 4.5:1 contrast on white (WCAG AA for text). */
export const AXIS_TEXT = '#4a545f';
