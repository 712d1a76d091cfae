/** Keyboard stepping through the layers: → or j next, ← or k previous, Home first, End last. */

/**
 * The layer index a key moves to from `index` among `count` layers, clamped to the list; null when the key is
 * not a stepping key (so the caller leaves the event alone) or there are no layers.
 */
export function stepFromKey(key: string, index: number, count: number): number | null {
  if (count <= 0) return null;
  const clamp = (i: number) => Math.min(count - 1, Math.max(0, i));
  switch (key) {
    case 'ArrowRight':
    case 'j':
      return clamp(index + 1);
    case 'ArrowLeft':
    case 'k':
      return clamp(index - 1);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}

/** Whether a key event should be left to the element that has focus (typing in a field, a modifier chord). */
export function ignoresStepping(e: { ctrlKey: boolean; metaKey: boolean; altKey: boolean; targetTag: string; editable: boolean }): boolean {
  return e.ctrlKey || e.metaKey || e.altKey || e.editable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(e.targetTag);
}
