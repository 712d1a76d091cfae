/** Keyboard stepping through the layers. */
import { describe, expect, it } from 'vitest';
import { ignoresStepping, stepFromKey } from '../../renderer/src/lib/keyboard.ts';

describe('stepFromKey', () => {
  it('steps with →/j and ←/k, clamped to the list', () => {
    expect(stepFromKey('ArrowRight', 0, 5)).toBe(1);
    expect(stepFromKey('j', 3, 5)).toBe(4);
    expect(stepFromKey('j', 4, 5)).toBe(4);
    expect(stepFromKey('ArrowLeft', 2, 5)).toBe(1);
    expect(stepFromKey('k', 0, 5)).toBe(0);
  });

  it('jumps with Home and End', () => {
    expect(stepFromKey('Home', 3, 5)).toBe(0);
    expect(stepFromKey('End', 0, 5)).toBe(4);
  });

  it('leaves other keys and empty lists alone', () => {
    expect(stepFromKey('x', 1, 5)).toBeNull();
    expect(stepFromKey('ArrowDown', 1, 5)).toBeNull();
    expect(stepFromKey('j', 0, 0)).toBeNull();
  });
});

describe('ignoresStepping', () => {
  const base = { ctrlKey: false, metaKey: false, altKey: false, targetTag: 'BODY', editable: false };
  it('steps from the page, not while typing or with modifiers', () => {
    expect(ignoresStepping(base)).toBe(false);
    expect(ignoresStepping({ ...base, targetTag: 'INPUT' })).toBe(true);
    expect(ignoresStepping({ ...base, targetTag: 'SELECT' })).toBe(true);
    expect(ignoresStepping({ ...base, editable: true })).toBe(true);
    expect(ignoresStepping({ ...base, ctrlKey: true })).toBe(true);
  });
});
