import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { checkUniqueNames, parseTargetSpec } from './spec.js';
/**
 * A targets file, YAML or JSON (JSON is YAML): either a list, or an object with
 * a `targets` list. Each entry is `name=url`, a bare URL, or `{name, url}`:
 *
 *   targets:
 *     - http://10.0.0.5:8000/metrics
 *     - gpu-b=http://10.0.0.6:8000/metrics
 *     - { name: gpu-c, url: "http://10.0.0.7:8000/metrics" }
 *
 * An empty list is valid (every target removed); a file that does not parse is
 * an error, so the caller can keep the targets it had.
 */
export async function readTargetsFile(path, flag = '--targets-file') {
    let text;
    try {
        text = await readFile(path, 'utf8');
    }
    catch (err) {
        throw new ConfigError(flag, `cannot read ${path}: ${err.message}`);
    }
    return parseTargetsText(text, `${flag} ${path}`);
}
export function parseTargetsText(text, where) {
    let doc;
    try {
        doc = parseYaml(text);
    }
    catch (err) {
        throw new ConfigError(where, `not YAML or JSON: ${err.message.split('\n')[0]}`);
    }
    if (doc === null || doc === undefined)
        return [];
    const hasKey = typeof doc === 'object' && !Array.isArray(doc) && 'targets' in doc;
    const list = Array.isArray(doc) ? doc : hasKey ? (doc.targets ?? []) : undefined;
    if (!Array.isArray(list))
        throw new ConfigError(where, 'expected a list of targets, or an object with a "targets" list');
    const specs = list.map((entry, i) => {
        const at = `${where} (entry ${i + 1})`;
        if (typeof entry === 'string')
            return parseTargetSpec(entry, at);
        if (entry && typeof entry === 'object' && typeof entry.url === 'string') {
            const { name, url } = entry;
            if (name !== undefined && typeof name !== 'string')
                throw new ConfigError(at, '"name" must be a string');
            return parseTargetSpec(name ? `${name}=${url}` : url, at);
        }
        throw new ConfigError(at, 'expected "name=url", a URL, or {name, url}');
    });
    return checkUniqueNames(specs, where);
}
