import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/**
 * The page's globals, as far as these functions use them. The tests are typed
 * without the DOM library, whose fetch and body types clash with Node's.
 */
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
}
declare const document: { body: { dataset: Record<string, string | undefined> }; querySelector(selector: string): PageCanvas | null };

/** Debian's chromium (`.ci/run` installs it); CHROMIUM names another. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (as .ci/run does), or set CHROMIUM`);
  // No sandbox: the tests run as root in CI, where Chromium's sandbox refuses to start; the page is our own file.
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
}

export interface OpenedPage {
  /** Console errors and warnings, and uncaught exceptions. */
  problems: string[];
  /** Every URL the page asked for. */
  requests: string[];
}

/** Opens a local HTML file and waits until its script says how many charts it drew. */
export async function openReport(browser: Browser, file: string): Promise<OpenedPage & { page: Page; charts: number }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`exception: ${String(e)}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  await page.waitForSelector('body[data-charts]', { timeout: 10_000 });
  const charts = Number(await page.evaluate(() => document.body.dataset.charts));
  return { page, charts, problems, requests };
}

/** Pixels of one chart's canvas within a small distance of an RGB colour: how much of that series is drawn. */
export function pixelsOfColor(page: Page, chartId: string, rgb: [number, number, number]): Promise<number> {
  return page.evaluate(
    (id, [r, g, b]) => {
      const canvas = document.querySelector(`#chart-${id} canvas`);
      if (!canvas) return -1;
      const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3]! > 200 && Math.abs(d[i]! - r) + Math.abs(d[i + 1]! - g) + Math.abs(d[i + 2]! - b) < 60) n++;
      return n;
    },
    chartId,
    rgb,
  );
}
