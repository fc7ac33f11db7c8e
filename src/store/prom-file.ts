import { renderText } from '../exposition/render.js';
import { TextMerge } from '../fleet/text-merge.js';
import { replaceFileSync } from './durable.js';
import { StoreError, type Round, type Store } from './store.js';

/**
 * node_exporter's textfile format: the latest round, every target's samples
 * labelled `instance`, in one `.prom` file that is replaced atomically (written
 * beside it, synced, renamed over it), so the textfile collector never reads
 * half a file.
 */
export class PromFileStore implements Store {
  readonly name = 'prom-file';

  constructor(readonly location: string) {
    // Fail at start on an unwritable directory, not at the first round.
    this.replace('');
  }

  async write(round: Round): Promise<void> {
    const merge = new TextMerge({ label: 'instance' });
    let text: string;
    try {
      for (const t of round.targets) if (t.families) merge.add(t.target, renderText(t.families));
      text = merge.render();
    } finally {
      merge.release();
    }
    this.replace(text);
  }

  private replace(text: string): void {
    try {
      replaceFileSync(this.location, text);
    } catch (err) {
      throw new StoreError(this.name, this.location, err);
    }
  }

  async close(): Promise<void> {}
}
