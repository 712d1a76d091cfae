/** Which view is shown. The app has five; no router is needed (and the URL fragment carries the token). */
import { defineStore } from 'pinia';
import { ref } from 'vue';

/** The views of the app. */
export type ViewName = 'runs' | 'new' | 'layers' | 'compare' | 'tiledb';

/** The views in tab order, with their labels. */
export const VIEWS: { name: ViewName; label: string }[] = [
  { name: 'runs', label: 'Runs' },
  { name: 'new', label: 'New profile' },
  { name: 'layers', label: 'Layers' },
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
