import { renderText } from '../exposition/render.js';
import { PushgatewayClient } from '../export/pushgateway.js';
import { TextMerge } from '../fleet/text-merge.js';
import { StoreError, type Round, type Store } from './store.js';

/**
 * Each round, every target's samples replace its Pushgateway group
 * `job/<job>/instance/<target>`. A target whose scrape failed is not pushed
 * (its group keeps the last round, with its push time showing the age).
 */
export class PushgatewayStore implements Store {
  readonly name = 'pushgateway';
  readonly location: string;
  private readonly client: PushgatewayClient;

  constructor(
    url: string,
    private readonly job: string,
    timeoutMs: number,
  ) {
    this.client = new PushgatewayClient({ url, timeoutMs });
    this.location = this.client.target.display;
  }

  async write(round: Round): Promise<void> {
    await Promise.all(
      round.targets
        .filter((t) => t.families)
        .map(async (t) => {
          const merge = new TextMerge({ reserved: ['job', 'instance'] });
          merge.add(t.target, renderText(t.families!));
          try {
            await this.client.put(
              [
                ['job', this.job],
                ['instance', t.target],
              ],
              merge.render(),
            );
          } catch (err) {
            throw new StoreError(this.name, this.location, err);
          }
        }),
    );
  }

  async close(): Promise<void> {}
}
