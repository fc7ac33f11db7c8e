/**
 * An independent, line-by-line and regex-based statement of what the sanitizer
 * must do to unquoted names. Slow and obviously right; the byte machine is fast
 * and must agree with it.
 */
const SAMPLE = /^([ \t]*)([a-zA-Z_:][a-zA-Z0-9_:]*)/;
const META = /^(#[ \t]+(?:HELP|TYPE|UNIT)[ \t]+)([a-zA-Z_:][a-zA-Z0-9_:]*)/;

export function renameNames(text: string, rename: (name: string) => string): string {
  return text
    .split('\n')
    .map((line) => {
      if (line.startsWith('#') || /^[ \t]+#/.test(line)) {
        return line.replace(META, (_, head: string, name: string) => head + rename(name));
      }
      return line.replace(SAMPLE, (_, ws: string, name: string) => ws + rename(name));
    })
    .join('\n');
}

export const underscore = (name: string) => name.replaceAll(':', '_');
