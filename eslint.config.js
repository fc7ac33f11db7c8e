// Lint: TypeScript's recommended rules, no import cycle, and imports that point
// down the layers. The layers are stated here once; CONTRIBUTING.md shows the
// same table, and test/docs/docs.test.ts fails when the two disagree.
import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * From the bottom up. A module may import from its own folder and from the
 * layers below its own, never from its own layer's other folders or from above.
 * `.` is the base: the files directly under src/ other than the entry points.
 */
export const LAYERS = [
  ['.'],
  ['names'],
  ['exposition'],
  ['http', 'upstream', 'spool'],
  ['targets'],
  ['fleet', 'otlp'],
  ['export', 'parseable'],
  ['store', 'requests'],
  ['collect', 'saturation'],
  ['report', 'api', 'simulator'],
  ['server'],
  ['commands', 'cli.ts', 'index.ts'],
];

const ENTRY_POINTS = ['./src/cli.ts', './src/index.ts'];
/** The base's files: every .ts directly under src/ but the entry points. */
const BASE = readdirSync('src')
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `./src/${f}`)
  .filter((f) => !ENTRY_POINTS.includes(f));
const path = (part) => (part === '.' ? BASE : `./src/${part}/**`);

/**
 * One zone per folder: its own layer's other folders and every layer above are
 * out of bounds, and so are the entry points. The top layer (the commands and
 * the entry points that put them together) has no zone.
 */
function layerZones() {
  const zones = [];
  LAYERS.slice(0, -1).forEach((layer, i) => {
    const above = LAYERS.slice(i + 1, -1).flat();
    for (const part of layer) {
      const message = `${part === '.' ? 'the base (src/*.ts)' : `src/${part}/`} is in layer ${i}: import only from its own folder and lower layers (CONTRIBUTING.md, "Layers")`;
      const from = [...layer.filter((p) => p !== part && p !== '.'), ...above, 'commands'].flatMap(path);
      // Globs and plain paths may not share a zone.
      zones.push({ target: path(part), from, message }, { target: path(part), from: ENTRY_POINTS, message });
    }
  });
  return zones;
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tap/', 'bench/results/', 'test/fixtures/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,js,mjs}'],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: globals.node,
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'test/tsconfig.json' })],
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // Unused arguments named _x are placeholders of a callback's signature.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: layerZones() }],
    },
  },
);
