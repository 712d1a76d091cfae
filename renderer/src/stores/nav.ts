/** Which view is shown. No router is needed (and the URL fragment carries the token). */
import { defineStore } from 'pinia';
import { ref } from 'vue';

/** The views of the app. */
export type ViewName = 'runs' | 'new' | 'model' | 'layers' | 'graph' | 'timeline' | 'compare' | 'tiledb';

/** The views in tab order, with their labels. */
export const VIEWS: { name: ViewName; label: string }[] = [
  { name: 'runs', label: 'Runs' },
  { name: 'new', label: 'New profile' },
  { name: 'model', label: 'Model' },
  { name: 'layers', label: 'Layers' },
  { name: 'graph', label: 'Graph' },
  { name: 'timeline', label: 'Timeline' },
  { name: 'compare', label: 'Compare' },
  { name: 'tiledb', label: 'Tile database' },
];

/** The view shown. */
export const useNavStore = defineStore('nav', () => {
  const view = ref<ViewName>('runs');
  function go(v: ViewName): void {
    view.value = v;
  }
  return { view, go };
});
