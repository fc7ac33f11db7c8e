import t from 'tap';
import { Every } from '../src/every.js';

/** A task whose runs the test ends by hand. */
function handTask() {
  const state = { runs: 0, active: 0, maxActive: 0, release: [] as Array<() => void> };
  const next: Array<() => void> = [];
  const task = () =>
    new Promise<void>((resolve) => {
      state.runs++;
      state.active++;
      state.maxActive = Math.max(state.maxActive, state.active);
      state.release.push(() => {
        state.active--;
        resolve();
      });
      next.splice(0).forEach((f) => f());
    });
  const started = () => new Promise<void>((resolve) => next.push(resolve));
  return { state, task, started };
}

t.test('runs at once, never two at a time; start twice is one loop; stop waits for the run in progress', async (t) => {
  const { state, task, started } = handTask();
  const loop = new Every(1, task);
  let firstDone = false;
  const first = loop.start().then(() => (firstDone = true));
  void loop.start();
  t.equal(state.runs, 1, 'the first run starts at once, once');
  t.notOk(firstDone);
  const second = started();
  state.release.shift()!();
  await first;
  await second;
  t.equal(state.runs, 2, 'the next run after the interval');
  const third = started();
  state.release.shift()!();
  await third;
  t.equal(state.maxActive, 1, 'never two runs at a time');
  let stopped = false;
  const stopping = loop.stop().then(() => (stopped = true));
  await Promise.resolve();
  t.notOk(stopped, 'stop waits for the run in progress');
  state.release.shift()!();
  await stopping;
  t.equal(state.runs, 3, 'and no run after it');
});
