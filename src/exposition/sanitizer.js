/**
 * Byte-level rewriter of metric names in a Prometheus / OpenMetrics text exposition.
 *
 * Why a hand-written state machine: the proxy sits in the scrape path of every
 * collector, and expositions reach several MB. Rewriting `:` to `_` is
 * length-preserving, so the common case mutates the incoming chunk in place and
 * hands the same memory on: no string decoding, no copy, memory bounded by one
 * chunk plus the head of one line. Only metric names are touched; label names,
 * label values, HELP text, values, timestamps and exemplars pass byte for byte.
 *
 * Three things are not length-preserving and are handled on the side:
 * - Prometheus 3 quoted names (`{"vllm:x",a="b"}`, `# TYPE "vllm:x" gauge`) are
 *   rewritten to the legacy form (`vllm_x{a="b"}`), so consumers that only know
 *   the classic grammar (Fluent Bit) can read them.
 * - Name collisions: if `a:b` and `a_b` both occur, the name seen first keeps
 *   the sanitized spelling and every later line whose name would collide with it
 *   is dropped. Streaming forbids looking ahead, and "first wins" is the only
 *   rule that never emits a line it would have to take back.
 * - Lines are held back only while their name is still being read, so a line
 *   can still be dropped when a chunk boundary splits its name.
 *
 * The caller hands over ownership of each chunk: it is modified in place.
 */
import { FNV_OFFSET, FNV_PRIME, MAX_ENTRY_LEN, NAMES } from './name-table.js';
const NL = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const HASH = 0x23;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;
const UNDERSCORE = 0x5f;
/** 1: legal name byte other than ':', 2: ':', 0: ends a name. */
const NAME_BYTE = new Uint8Array(256);
/** Bytes that may start a legacy name. */
const NAME_START = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
    const alpha = (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === UNDERSCORE;
    const digit = b >= 0x30 && b <= 0x39;
    NAME_BYTE[b] = b === COLON ? 2 : alpha || digit ? 1 : 0;
    NAME_START[b] = alpha || b === COLON ? 1 : 0;
}
// Keywords after '#' that are followed by a metric name, packed 5 bits a letter
// so the value stays a small integer (a heap number would change the object's shape).
const packKeyword = (word) => [...word].reduce((kw, ch) => kw * 32 + (ch.charCodeAt(0) - 0x40), 0);
const KW_HELP = packKeyword('HELP');
const KW_TYPE = packKeyword('TYPE');
const KW_UNIT = packKeyword('UNIT');
const KW_MAX = 32 * 32 * 32;
const SCRATCH_START = 256;
/** Longer names are still sanitized but not tracked for collisions. */
const SCRATCH_MAX = 64 * 1024;
/** Distinct names remembered per exposition; bounds memory on hostile input. */
const DEFAULT_MAX_TRACKED_NAMES = 200_000;
/** Rewrite a quoted (possibly UTF-8) metric name to the legacy charset. */
export function toLegacyName(name) {
    let out = '';
    for (const ch of name) {
        const c = ch.codePointAt(0);
        out += c < 128 && NAME_BYTE[c] === 1 ? ch : '_';
    }
    if (out.length === 0 || (out.charCodeAt(0) >= 0x30 && out.charCodeAt(0) <= 0x39))
        out = '_' + out;
    return out;
}
/** Sanitize one complete name the same way the stream does (for parsers and OTLP). */
export function sanitizeName(name) {
    for (let i = 0; i < name.length; i++) {
        const c = name.charCodeAt(i);
        if (c >= 128 || NAME_BYTE[c] !== 1)
            return toLegacyName(name);
    }
    return name;
}
export class NameSanitizer {
    /** Lines dropped because their name collided. */
    droppedLines = 0;
    /** Distinct names whose lines were dropped. */
    collidingNames = 0;
    /** Names whose spelling changed (counted once per distinct name). */
    renamedNames = 0;
    state = 0 /* S.LineStart */;
    /** Pieces of the current line's head from earlier chunks, not yet emitted. */
    held = objectArray();
    keyword = 0;
    inComment = false;
    skipping = false;
    hasColon = false;
    /** The name being read, when it is not one of the recent names. */
    cur = Buffer.allocUnsafe(SCRATCH_START);
    curLen = 0;
    /** FNV-1a of the name being read, for the name table. */
    hash = FNV_OFFSET;
    quoted = false;
    /** Recently seen names: most lines match one of them. */
    recent = [];
    recentNext = 0;
    /** The previous line's name. */
    last = undefined;
    /**
     * Per name-table slot, who owns the sanitized name in this exposition: entry
     * id + 1, STRING_OWNER (a name outside the table, see `owners`), or 0.
     */
    ownerOf;
    /** Owners of sanitized names seen through the string path. */
    owners = new Map();
    reported = new Set();
    onCollision;
    maxTracked;
    constructor(options = {}) {
        this.onCollision = options.onCollision;
        this.maxTracked = options.maxTrackedNames ?? DEFAULT_MAX_TRACKED_NAMES;
        this.ownerOf = new Int32Array(NAMES.slotCount + 64);
    }
    /** Process one chunk (modified in place); emits zero or more output slices. */
    write(buf, out) {
        const n = buf.length;
        const dv = new DataView(buf.buffer, buf.byteOffset, n);
        let i = 0;
        // Start of bytes of this chunk that are pending output, or -1 while skipping.
        let emitStart = this.skipping ? -1 : 0;
        // Where the current line's head begins in this chunk (0 if it began earlier).
        let lineStart = 0;
        let state = this.state;
        while (i < n) {
            switch (state) {
                case 12 /* S.Rest */: {
                    const nl = buf.indexOf(NL, i);
                    if (nl === -1) {
                        i = n;
                        break;
                    }
                    i = nl + 1;
                    lineStart = i;
                    state = 0 /* S.LineStart */;
                    break;
                }
                case 13 /* S.Drop */: {
                    const nl = buf.indexOf(NL, i);
                    if (nl === -1) {
                        i = n;
                        emitStart = n;
                        break;
                    }
                    i = nl + 1;
                    emitStart = i;
                    lineStart = i;
                    state = 0 /* S.LineStart */;
                    break;
                }
                case 0 /* S.LineStart */:
                case 1 /* S.LeadWs */: {
                    const b = buf[i];
                    if (NAME_START[b] === 1) {
                        const end = this.knownName(buf, dv, i, n, out);
                        if (end >= 0) {
                            i = end;
                            state = 12 /* S.Rest */;
                        }
                        else
                            state = 6 /* S.Name */;
                    }
                    else if (b === HASH) {
                        i++;
                        state = 2 /* S.Hash */;
                    }
                    else if (b === SP || b === TAB) {
                        i++;
                        state = 1 /* S.LeadWs */;
                    }
                    else if (b === LBRACE) {
                        i++;
                        state = 7 /* S.Brace */;
                    }
                    else {
                        state = this.toRest(out);
                    }
                    break;
                }
                case 6 /* S.Name */: {
                    let k = this.curLen;
                    let cap = this.cur.length;
                    let cur = this.cur;
                    let colon = this.hasColon;
                    let h = this.hash;
                    for (; i < n; i++) {
                        const b = buf[i];
                        const c = NAME_BYTE[b];
                        if (c === 0)
                            break;
                        h = Math.imul(h ^ b, FNV_PRIME);
                        if (c === 2) {
                            buf[i] = UNDERSCORE;
                            colon = true;
                        }
                        if (k >= cap) {
                            cur = this.growScratch(k);
                            cap = cur.length;
                        }
                        if (k < cap)
                            cur[k] = b;
                        k++;
                    }
                    this.curLen = k;
                    this.hasColon = colon;
                    this.hash = h;
                    if (i === n)
                        break; // name continues in the next chunk
                    const keep = this.classify();
                    if (keep) {
                        this.flushHeld(out);
                        state = 12 /* S.Rest */;
                    }
                    else {
                        this.held.length = 0;
                        if (lineStart > emitStart && emitStart >= 0)
                            out.push(buf.subarray(emitStart, lineStart));
                        emitStart = lineStart;
                        state = 13 /* S.Drop */;
                    }
                    break;
                }
                case 2 /* S.Hash */: {
                    const b = buf[i];
                    if (b === SP || b === TAB) {
                        i++;
                        state = 3 /* S.HashWs */;
                    }
                    else {
                        state = this.toRest(out);
                    }
                    break;
                }
                case 3 /* S.HashWs */: {
                    const b = buf[i];
                    if (b === SP || b === TAB) {
                        i++;
                    }
                    else {
                        this.keyword = 0;
                        state = 4 /* S.Keyword */;
                    }
                    break;
                }
                case 4 /* S.Keyword */: {
                    const b = buf[i];
                    if (b === SP || b === TAB) {
                        const kw = this.keyword;
                        state = kw === KW_HELP || kw === KW_TYPE || kw === KW_UNIT ? 5 /* S.KeywordWs */ : this.toRest(out);
                        i++;
                    }
                    else if (b >= 0x41 && b <= 0x5a && this.keyword < KW_MAX) {
                        this.keyword = this.keyword * 32 + (b - 0x40);
                        i++;
                    }
                    else {
                        state = this.toRest(out);
                    }
                    break;
                }
                case 5 /* S.KeywordWs */: {
                    const b = buf[i];
                    if (b === SP || b === TAB) {
                        i++;
                    }
                    else if (NAME_START[b] === 1) {
                        const end = this.knownName(buf, dv, i, n, out);
                        if (end >= 0) {
                            i = end;
                            state = 12 /* S.Rest */;
                        }
                        else
                            state = 6 /* S.Name */;
                    }
                    else if (b === QUOTE) {
                        emitStart = this.cut(buf, emitStart, lineStart, i, out);
                        this.beginName(true);
                        this.inComment = true;
                        i++;
                        state = 8 /* S.Quoted */;
                    }
                    else {
                        state = this.toRest(out);
                    }
                    break;
                }
                case 7 /* S.Brace */: {
                    const b = buf[i];
                    if (b === SP || b === TAB) {
                        i++;
                    }
                    else if (b === QUOTE) {
                        // The head up to (not including) '{' is kept; '{' and the name are replaced.
                        const brace = this.findBraceBefore(buf, i, lineStart);
                        emitStart = this.cut(buf, emitStart, lineStart, brace, out);
                        this.beginName(true);
                        this.inComment = false;
                        i++;
                        state = 8 /* S.Quoted */;
                    }
                    else {
                        state = this.toRest(out);
                    }
                    break;
                }
                case 8 /* S.Quoted */: {
                    const b = buf[i];
                    i++;
                    if (b === QUOTE) {
                        if (this.inComment) {
                            state = this.finishQuoted(out, '');
                            emitStart = i;
                        }
                        else {
                            state = 10 /* S.QuotedAfter */;
                        }
                    }
                    else if (b === BACKSLASH) {
                        state = 9 /* S.QuotedEscape */;
                    }
                    else if (b === NL) {
                        // Unterminated quoted name: emit what was read, keep the line break.
                        i--;
                        state = this.finishQuoted(out, '');
                        emitStart = i;
                    }
                    else {
                        this.pushNameByte(b);
                    }
                    break;
                }
                case 9 /* S.QuotedEscape */: {
                    const b = buf[i];
                    i++;
                    this.pushNameByte(b === 0x6e ? NL : b);
                    state = 8 /* S.Quoted */;
                    break;
                }
                case 10 /* S.QuotedAfter */: {
                    const b = buf[i];
                    if (b === SP || b === TAB) {
                        i++;
                    }
                    else if (b === COMMA) {
                        i++;
                        state = 11 /* S.QuotedAfterComma */;
                    }
                    else if (b === RBRACE) {
                        i++;
                        state = this.finishQuoted(out, '');
                        emitStart = i;
                    }
                    else {
                        state = this.finishQuoted(out, '{');
                        emitStart = i;
                    }
                    break;
                }
                case 11 /* S.QuotedAfterComma */: {
                    const b = buf[i];
                    if (b === SP || b === TAB) {
                        i++;
                    }
                    else if (b === RBRACE) {
                        i++;
                        state = this.finishQuoted(out, '');
                        emitStart = i;
                    }
                    else {
                        state = this.finishQuoted(out, '{');
                        emitStart = i;
                    }
                    break;
                }
            }
        }
        this.state = state;
        if (this.skipping)
            return;
        if (emitStart < 0)
            emitStart = 0;
        if (isHead(state)) {
            // The line's name is not complete: hold its head until the next chunk decides.
            if (lineStart > emitStart)
                out.push(buf.subarray(emitStart, lineStart));
            const from = Math.max(lineStart, emitStart);
            if (from < n)
                this.held.push(buf.subarray(from, n));
        }
        else if (emitStart < n) {
            out.push(emitStart === 0 ? buf : buf.subarray(emitStart, n));
        }
    }
    /** End of the exposition: decide and release whatever line head is still held. */
    end(out) {
        const state = this.state;
        if (state === 6 /* S.Name */) {
            if (this.classify())
                this.flushHeld(out);
        }
        else if (state === 8 /* S.Quoted */ || state === 9 /* S.QuotedEscape */ || state === 10 /* S.QuotedAfter */ || state === 11 /* S.QuotedAfterComma */) {
            this.finishQuoted(out, '');
        }
        else {
            this.flushHeld(out);
        }
        this.held.length = 0;
        this.skipping = false;
        this.state = 0 /* S.LineStart */;
    }
    /**
     * At the first byte of a name. Fast path: a name known to this exposition
     * (the previous line's, its usual successor, a recent one) is recognised 4
     * bytes at a time and rewritten at its known colon positions, without a
     * byte-by-byte scan. Returns the index after it, or -1 to read it byte by byte.
     */
    knownName(buf, dv, i, n, out) {
        const hit = this.matchRecent(buf, dv, i, n);
        if (hit === undefined || !this.owns(hit)) {
            this.beginName(false);
            return -1;
        }
        const colons = hit.colons;
        for (let c = 0; c < colons.length; c++)
            buf[i + colons[c]] = UNDERSCORE;
        if (this.held.length > 0)
            this.flushHeld(out);
        return i + hit.len;
    }
    beginName(quoted) {
        this.curLen = 0;
        this.hasColon = false;
        this.hash = FNV_OFFSET;
        this.quoted = quoted;
    }
    pushNameByte(b) {
        const k = this.curLen;
        if (k >= this.cur.length)
            this.growScratch(k);
        if (k < this.cur.length)
            this.cur[k] = b;
        this.curLen = k + 1;
    }
    /** Grow the scratch so index `need` fits; `need` bytes are already in it. */
    growScratch(need) {
        if (need >= SCRATCH_MAX)
            return this.cur;
        let size = this.cur.length * 2;
        while (size <= need)
            size *= 2;
        const next = Buffer.allocUnsafe(Math.min(size, SCRATCH_MAX));
        this.cur.copy(next, 0, 0, need);
        this.cur = next;
        return next;
    }
    /**
     * Start replacing the line head from `at`: everything before the line goes out,
     * the line's bytes up to `at` are held, and later bytes are skipped.
     */
    cut(buf, emitStart, lineStart, at, out) {
        if (emitStart >= 0 && lineStart > emitStart)
            out.push(buf.subarray(emitStart, lineStart));
        const from = emitStart >= 0 ? Math.max(lineStart, emitStart) : at;
        if (at > from)
            this.held.push(buf.subarray(from, at));
        this.skipping = true;
        return -1;
    }
    /**
     * Position of the '{' that opened a brace-quoted name, between lineStart and i.
     * If it lies in an earlier chunk, the held head is cut at it instead and
     * lineStart is returned (only whitespace separates it from the quote).
     */
    findBraceBefore(buf, i, lineStart) {
        for (let j = i - 1; j >= lineStart; j--)
            if (buf[j] === LBRACE)
                return j;
        const held = this.held;
        for (let p = held.length - 1; p >= 0; p--) {
            const at = held[p].lastIndexOf(LBRACE);
            if (at !== -1) {
                held[p] = held[p].subarray(0, at);
                held.length = p + 1;
                break;
            }
        }
        return lineStart;
    }
    /** Leave a line head without a name to rewrite: what was held goes out as is. */
    toRest(out) {
        if (this.held.length > 0)
            this.flushHeld(out);
        return 12 /* S.Rest */;
    }
    finishQuoted(out, suffix) {
        this.skipping = false;
        const original = this.cur.toString('utf8', 0, Math.min(this.curLen, this.cur.length));
        const legacy = toLegacyName(original);
        const keep = this.classifyStrings(original, legacy);
        if (!keep) {
            this.held.length = 0;
            return 13 /* S.Drop */;
        }
        this.flushHeld(out);
        out.push(Buffer.from(legacy + suffix, 'latin1'));
        return 12 /* S.Rest */;
    }
    flushHeld(out) {
        const held = this.held;
        if (held.length === 0)
            return;
        for (let j = 0; j < held.length; j++)
            if (held[j].length > 0)
                out.push(held[j]);
        held.length = 0;
    }
    /** Decide whether the line whose (unquoted) name sits in the scratch is kept. */
    classify() {
        const len = this.curLen;
        // Overlong names are sanitized but not tracked.
        if (len > this.cur.length)
            return true;
        if (len <= MAX_ENTRY_LEN) {
            const e = NAMES.find(this.hash, this.cur, len);
            if (e !== undefined) {
                const keep = this.own(e);
                this.remember(e);
                return keep;
            }
        }
        const original = this.cur.toString('latin1', 0, len);
        return this.classifyStrings(original, this.hasColon ? original.replaceAll(':', '_') : original);
    }
    /** `own` for the fast path: only the cases without side effects besides taking ownership. */
    owns(e) {
        const o = this.ownerOf[e.slot];
        if (o === e.id + 1)
            return true;
        if (o !== 0 || this.owners.size > 0)
            return false; // (undefined: slot beyond the array)
        this.ownerOf[e.slot] = e.id + 1;
        if (e.colons.length > 0)
            this.renamedNames++;
        return true;
    }
    /** First spelling of a sanitized name in this exposition wins (see the top of this file). */
    own(e) {
        const slot = e.slot;
        if (slot >= this.ownerOf.length)
            this.growOwners();
        const o = this.ownerOf[slot];
        if (o === e.id + 1)
            return true;
        if (o === 0) {
            // A name outside the table may already own it (quoted names, a full table).
            if (this.owners.size > 0 && this.owners.has(e.sanitized)) {
                this.ownerOf[slot] = STRING_OWNER;
                return this.own(e);
            }
            this.ownerOf[slot] = e.id + 1;
            if (e.colons.length > 0)
                this.renamedNames++;
            return true;
        }
        this.collide(e.original, e.sanitized, o === STRING_OWNER ? this.owners.get(e.sanitized) : NAMES.entry(o - 1).original);
        return false;
    }
    /** The string path: quoted names, and names the table does not hold. */
    classifyStrings(original, sanitized) {
        const slot = NAMES.slotOf(sanitized);
        if (slot !== undefined) {
            if (slot >= this.ownerOf.length)
                this.growOwners();
            const o = this.ownerOf[slot];
            if (o !== 0 && o !== STRING_OWNER) {
                this.collide(original, sanitized, NAMES.entry(o - 1).original);
                return false;
            }
            this.ownerOf[slot] = STRING_OWNER;
        }
        const owner = this.owners.get(sanitized);
        if (owner === undefined) {
            if (this.owners.size < this.maxTracked) {
                this.owners.set(sanitized, original);
                if (original !== sanitized)
                    this.renamedNames++;
            }
            return true;
        }
        if (owner === original)
            return true;
        this.collide(original, sanitized, owner);
        return false;
    }
    collide(original, sanitized, kept) {
        this.droppedLines++;
        if (!this.reported.has(original)) {
            this.reported.add(original);
            this.collidingNames++;
            this.onCollision?.({ original, sanitized, kept });
        }
    }
    growOwners() {
        const next = new Int32Array(NAMES.slotCount + 64);
        next.set(this.ownerOf);
        this.ownerOf = next;
    }
    /**
     * The known name that starts at buf[i] and ends before a non-name byte, if
     * any: the previous line's name, its usual successor, then the recent ones.
     */
    matchRecent(buf, dv, i, n) {
        const last = this.last;
        if (last !== undefined) {
            if (matches(last, buf, dv, i, n))
                return last;
            const next = last.next;
            if (next !== undefined && matches(next, buf, dv, i, n))
                return this.follow(next);
        }
        const recent = this.recent;
        for (let r = 0; r < recent.length; r++) {
            const e = recent[r];
            if (matches(e, buf, dv, i, n))
                return this.follow(e);
        }
        return undefined;
    }
    /** `e` is the current line's name: learn the sequence. */
    follow(e) {
        const last = this.last;
        if (last !== undefined && last.next !== e)
            last.next = e;
        this.last = e;
        return e;
    }
    /** Put a name among the recent ones, replacing the oldest. */
    remember(e) {
        this.follow(e);
        const recent = this.recent;
        for (let r = 0; r < recent.length; r++)
            if (recent[r] === e)
                return;
        if (recent.length < RECENT_SIZE)
            recent.push(e);
        else
            recent[this.recentNext] = e;
        this.recentNext = (this.recentNext + 1) % RECENT_SIZE;
    }
}
const RECENT_SIZE = 8;
const STRING_OWNER = -1;
/** Whether `e` is the whole name at buf[i] (compared 4 bytes at a time). */
function matches(e, buf, dv, i, n) {
    const len = e.len;
    if (i + len >= n || NAME_BYTE[buf[i + len]] !== 0)
        return false;
    const words = e.words;
    let j = 0;
    for (; j + 4 <= len; j += 4)
        if (dv.getUint32(i + j, true) !== words[j >> 2])
            return false;
    const bytes = e.bytes;
    for (; j < len; j++)
        if (buf[i + j] !== bytes[j])
            return false;
    return true;
}
function isHead(state) {
    return state !== 12 /* S.Rest */ && state !== 13 /* S.Drop */ && state !== 0 /* S.LineStart */;
}
/** Sanitize a whole in-memory exposition (tests, small payloads). */
export function sanitizeBuffer(input, options) {
    const parts = [];
    const s = new NameSanitizer(options);
    s.write(input, parts);
    s.end(parts);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
/**
 * An empty array that already holds object elements: V8 would otherwise change
 * its elements kind on the first push, and the hot loop would deoptimize once
 * per sanitizer instance, that is once per scrape.
 */
function objectArray() {
    const a = [EMPTY];
    a.pop();
    return a;
}
const EMPTY = Buffer.alloc(0);
/**
 * Run every path once at load. A chunk is long enough that V8 optimizes `write`
 * in the middle of its first call (on-stack replacement), before the code after
 * the loop has ever run; that code then has no type feedback and the optimized
 * version deoptimizes at the end of every later chunk. Measured: 5x throughput.
 */
function warmUp() {
    const sample = '# HELP a:b h\n# TYPE a:b gauge\na:b{x="1"} 1\na_b 2\n{"c:d",y="2"} 3\n# TYPE "e:f" gauge\n  g 4\n# EOF\nh:i';
    for (let split = 1; split < sample.length; split += 3) {
        const s = new NameSanitizer();
        const out = [];
        s.write(Buffer.from(sample.slice(0, split)), out);
        s.write(Buffer.from(sample.slice(split)), out);
        s.end(out);
    }
}
warmUp();
