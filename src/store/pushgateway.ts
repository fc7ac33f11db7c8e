import { renderText } from '../exposition/render.js';
import { GROUPING_LABELS, PushgatewayClient, targetGroup } from '../export/pushgateway.js';
import { targetMeta } from '../fleet/targets-scrape.js';
import { TextMerge } from '../fleet/text-merge.js';
import { StoreError, type Round, type Store } from './store.js';

/**
 * Each round, every target's samples replace its Pushgateway group
 * `job/<job>/instance/<target>`, with the per-target gauges serve's push mode
 * sends (`vllm_metrics_proxy_target_up`, ...). A target whose scrape failed is
 * pushed as `target_up 0` with `target_error{kind}`, so its group does not go
 * on showing the last numbers as if current.
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
      round.targets.map(async (t) => {
        let data = '';
        let samples = 0;
        if (t.families) {
          const merge = new TextMerge({ reserved: GROUPING_LABELS });
          try {
            merge.add(t.target, renderText(t.families));
            data = merge.render();
          } finally {
            merge.release();
          }
          samples = merge.samples.get(t.target) ?? 0;
        }
        const status = { name: t.target, errorKind: t.families ? undefined : (t.errorKind ?? 'error'), seconds: t.seconds ?? 0, samples };
        try {
          await this.client.put(targetGroup(this.job, t.target), renderText(targetMeta([status], undefined)) + data);
        } catch (err) {
          throw new StoreError(this.name, this.location, err);
        }
      }),
    );
  }

  async close(): Promise<void> {}
}
