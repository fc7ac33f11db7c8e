import { AppendFile, jsonValue } from './file-append.js';
import { rowsOf, type Round, type Row, type RowStore } from './store.js';

/**
 * JSON Lines, one sample per line:
 * `{"ts":"2026-11-23T10:00:00.000Z","unix_ms":...,"target":"gpu-a","family":"vllm_num_requests_running","type":"gauge","name":"vllm_num_requests_running","labels":{"model_name":"m","engine":"0"},"value":3}`.
 * Values that JSON cannot hold (NaN, ±Inf) are strings.
 */
export class JsonlStore implements RowStore {
  readonly name = 'jsonl';
  private readonly file: AppendFile;

  constructor(readonly location: string) {
    this.file = new AppendFile(this.name, location);
  }

  async write(round: Round): Promise<void> {
    return this.writeRows(rowsOf(round));
  }

  async writeRows(rows: readonly Row[]): Promise<void> {
    let text = '';
    for (const r of rows) {
      text += `${JSON.stringify({ ts: new Date(r.timeMs).toISOString(), unix_ms: r.timeMs, target: r.target, family: r.family, type: r.type, name: r.name, labels: r.labels, value: jsonValue(r.value) })}\n`;
    }
    if (text) this.file.append(text);
  }

  async close(): Promise<void> {
    this.file.close();
  }
}
