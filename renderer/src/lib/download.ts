/** Saving exports from the page: a download in the browser, a save dialog in Electron. */

/** Saves `text` as a file named `filename`. */
export function saveText(filename: string, text: string, type = 'text/csv;charset=utf-8'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  try {
    saveUrl(filename, url);
  } finally {
    // Revoked on the next turn: the click has started the download by then.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

/** Saves a `data:` or `blob:` URL (e.g. a chart's PNG) as `filename`. */
export function saveUrl(filename: string, url: string): void {
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
}
