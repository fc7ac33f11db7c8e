;; The fleet merge's last step (piece-arena.ts): copy every piece of the merged
;; exposition, in order, into one output region, natively.
;;
;; A piece is a byte range (address, length), two i32 words. A run is three
;; i32 words, as TextMerge keeps them in an Int32Array: a range [from, to) of
;; pieces, as word indexes into the piece array, and the run's length in bytes
;; (not read here). gather copies the pieces of `count` runs (at `runs`, 12
;; bytes each) to `dst` and returns where it stopped. A line of the merge is three or four pieces of 1 to ~100 bytes:
;; memory.copy does each in a few nanoseconds, where a loop in JavaScript moved
;; four bytes at a time and Buffer.copy cost more per call than the line
;; (bench/README.md, "Fleet merge on bytes"). Out-of-bounds ranges trap.
;;
;; Assembled with wabt (npm, dev dependency) into gather-wasm.ts; the test
;; test/fleet/piece-arena.test.ts checks that the bytes there are this text's.
(module
  (memory (export "memory") 1 32768)
  (func (export "gather") (param $runs i32) (param $count i32) (param $pieces i32) (param $dst i32) (result i32)
    (local $runsEnd i32) (local $p i32) (local $pEnd i32) (local $len i32)
    (local.set $runsEnd (i32.add (local.get $runs) (i32.mul (local.get $count) (i32.const 12))))
    (block $done
      (loop $run
        (br_if $done (i32.ge_u (local.get $runs) (local.get $runsEnd)))
        (local.set $p (i32.add (local.get $pieces) (i32.shl (i32.load (local.get $runs)) (i32.const 2))))
        (local.set $pEnd (i32.add (local.get $pieces) (i32.shl (i32.load offset=4 (local.get $runs)) (i32.const 2))))
        (block $runDone
          (loop $piece
            (br_if $runDone (i32.ge_u (local.get $p) (local.get $pEnd)))
            (local.set $len (i32.load offset=4 (local.get $p)))
            (memory.copy (local.get $dst) (i32.load (local.get $p)) (local.get $len))
            (local.set $dst (i32.add (local.get $dst) (local.get $len)))
            (local.set $p (i32.add (local.get $p) (i32.const 8)))
            (br $piece)))
        (local.set $runs (i32.add (local.get $runs) (i32.const 12)))
        (br $run)))
    (local.get $dst)))
