/**
 * Matrix kernels for the MLP engine as a small WebAssembly SIMD module that is
 * assembled in memory from this file (no binary artifact, no build step, no
 * download): a register-blocked f32 matrix product with strided operands and
 * fused epilogues, a transpose and a column sum; and, in a second module
 * (optimModule), the elementwise optimizer kernels (Adam in f32x4 and f64x2,
 * Polyak averaging) used by src/nn/adam.ts.
 *
 * Why: the tfjs wasm matMul (XNNPACK) packs its right-hand operand on every
 * call (and every product of a training step has a fresh one), needs explicit
 * transposes (its transposeA/B flags take a much slower path) and adds per-op
 * engine overhead. The kernel here reads row-major operands (either
 * orientation of the left operand, so x^T g needs no transpose) with f32x4
 * mul + add and one v128.load32_splat per row and k, or fused multiply-add
 * (relaxed SIMD, see wasmFmaEnabled), and fuses bias + ReLU (forward) and the
 * ReLU mask (backward) into the product. A second product kernel (spgemm)
 * skips the exact zeros of its left operand (ReLU activations and masked
 * gradients, about half zero). Timings: bench/offline-rl-kernels.ts and the
 * README's Offline RL section.
 *
 * Layout: every matrix is row-major f32 in one wasm memory; addresses and
 * strides are in bytes. The product computes
 *   C[i, j] = epilogue(bias[j] + sum_k A(i, k) B[k, j]),  A(i, k) at a + i*aRS + k*aCS,
 * so aRS = 4K, aCS = 4 reads A as stored (M x K) and aRS = 4, aCS = 4M reads
 * the transpose of a stored K x M matrix. B rows are contiguous (bRS = row
 * stride); N must be a multiple of 4 (callers pad). Blocks of 4 rows x 8
 * columns keep 8 SIMD accumulators; tails use 4-column and 1-row blocks; each
 * 4-row panel of A is copied to a scratch buffer as K consecutive 4-vectors
 * (see gemmKernel). The sum over k runs in order k = 0, 1, ... for every
 * element, so results do not depend on the blocking or the packing and are
 * the same on every run (with FMA: on every run on a given machine).
 */

import v8 from 'node:v8';
import { OffpolicyError } from '../core/errors.js';

const I32 = 0x7f;
const V128 = 0x7b;
const F32 = 0x7d;

/** Bytes of one wasm function body, with the few instructions the kernels use. */
class Code {
  readonly b: number[] = [];
  op(...x: number[]): this {
    for (const v of x) this.b.push(v);
    return this;
  }
  u(v: number): this {
    do {
      let byte = v & 0x7f;
      v >>>= 7;
      if (v) byte |= 0x80;
      this.b.push(byte);
    } while (v);
    return this;
  }
  s(v: number): this {
    for (;;) {
      const byte = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
        this.b.push(byte);
        return this;
      }
      this.b.push(byte | 0x80);
    }
  }
  get(i: number): this {
    return this.op(0x20).u(i);
  }
  set(i: number): this {
    return this.op(0x21).u(i);
  }
  tee(i: number): this {
    return this.op(0x22).u(i);
  }
  i32(v: number): this {
    return this.op(0x41).s(v);
  }
  add(): this {
    return this.op(0x6a);
  }
  mul(): this {
    return this.op(0x6c);
  }
  ltU(): this {
    return this.op(0x49);
  }
  leU(): this {
    return this.op(0x4d);
  }
  eqz(): this {
    return this.op(0x45);
  }
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  if(): this {
    return this.op(0x04, 0x40);
  }
  else(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  brIf(depth: number): this {
    return this.op(0x0d).u(depth);
  }
  call(f: number): this {
    return this.op(0x10).u(f);
  }
  f32Load(offset = 0): this {
    return this.op(0x2a, 2).u(offset);
  }
  f32Store(offset = 0): this {
    return this.op(0x38, 2).u(offset);
  }
  f32Add(): this {
    return this.op(0x92);
  }
  f32Mul(): this {
    return this.op(0x94);
  }
  f32Const0(): this {
    return this.op(0x43, 0, 0, 0, 0);
  }
  i32Load(offset = 0): this {
    return this.op(0x28, 2).u(offset);
  }
  i32Store(offset = 0): this {
    return this.op(0x36, 2).u(offset);
  }
  f32Ne(): this {
    return this.op(0x5c);
  }
  sub(): this {
    return this.op(0x6b);
  }
  and(): this {
    return this.op(0x71);
  }
  shl(): this {
    return this.op(0x74);
  }
  gtU(): this {
    return this.op(0x4b);
  }
  simd(o: number): this {
    return this.op(0xfd).u(o);
  }
  vLoad(offset = 0): this {
    return this.simd(0x00).u(4).u(offset);
  }
  vStore(offset = 0): this {
    return this.simd(0x0b).u(4).u(offset);
  }
  vZero(): this {
    this.simd(0x0c);
    for (let i = 0; i < 16; i++) this.b.push(0);
    return this;
  }
  /** v128.load32_splat: one f32 from memory into all four lanes. */
  loadSplat(offset = 0): this {
    return this.simd(0x09).u(2).u(offset);
  }
  vAdd(): this {
    return this.simd(0xe4);
  }
  /** f32x4.relaxed_madd (relaxed SIMD): a * b + c, fused where the CPU has FMA. */
  vMadd(): this {
    return this.simd(0x105);
  }
  vMul(): this {
    return this.simd(0xe6);
  }
  vMax(): this {
    return this.simd(0xe9);
  }
  vGt(): this {
    return this.simd(0x44);
  }
  vAnd(): this {
    return this.simd(0x4e);
  }
  /** i8x16.shuffle of two f32x4 by f32 lane (0..3 from the first operand, 4..7 from the second). */
  shuffle32(lanes: number[]): this {
    this.simd(0x0d);
    for (const l of lanes) for (let byte = 0; byte < 4; byte++) this.b.push(4 * l + byte);
    return this;
  }
}

interface Func {
  name: string | null;
  params: number[];
  locals: [number, number][];
  body: Code;
}

function assemble(funcs: Func[]): Uint8Array<ArrayBuffer> {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const section = (id: number, c: Code): void => {
    const len = new Code().u(c.b.length);
    out.push(id, ...len.b, ...c.b);
  };
  const name = (c: Code, s: string): void => {
    c.u(s.length);
    for (const ch of s) c.b.push(ch.charCodeAt(0));
  };
  const types = new Code().u(funcs.length);
  for (const f of funcs) types.op(0x60).u(f.params.length).op(...f.params).u(0);
  section(1, types);
  const imports = new Code().u(1);
  name(imports, 'env');
  name(imports, 'memory');
  imports.op(0x02, 0x00).u(1);
  section(2, imports);
  const fnSec = new Code().u(funcs.length);
  funcs.forEach((_, i) => fnSec.u(i));
  section(3, fnSec);
  const exported = funcs.map((f, i) => [f.name, i] as const).filter((e): e is readonly [string, number] => e[0] !== null);
  const exports = new Code().u(exported.length);
  for (const [n, i] of exported) {
    name(exports, n);
    exports.op(0x00).u(i);
  }
  section(7, exports);
  const code = new Code().u(funcs.length);
  for (const f of funcs) {
    const body = new Code().u(f.locals.length);
    for (const [count, type] of f.locals) body.u(count).op(type);
    body.op(...f.body.b).end();
    code.u(body.b.length).op(...body.b);
  }
  section(10, code);
  return new Uint8Array(out);
}

/**
 * gemm(a, aRS, aCS, b, bRS, c, cRS, M, N, K, bias, mask, mRS, relu, scratch):
 * the whole product in one function, in blocks of 4 rows x 8 columns (8 f32x4
 * accumulators), then a 4-column block for N % 8 and 1-row blocks for M % 4.
 * Each 4-row panel of A is first packed into `scratch` (4K floats) as K
 * consecutive 4-vectors [A(0,k) A(1,k) A(2,k) A(3,k)], so that the k loop
 * reads A at one pointer and constant offsets. Packing pays when the panel
 * serves more than one block (N >= 8): when A is read transposed (aRS = 4,
 * aCS != 4) by copying one 4-vector per k (read in place, every k of every
 * block would touch a new cache line); when A is as stored (aCS = 4) and
 * scratch != 0, by 4 x 4 transposes in registers. Otherwise (N = 4, scratch
 * 0, the 1-row tail) A is read in place (for the 256 x 4 dW of an output
 * layer, faster than packing). B is walked by a pointer bumped by bRS. Every element sums k = 0, 1, ... in
 * order, so neither the blocking nor the packing changes any bit: the results
 * are those of the earlier kernel (four block functions, called once per
 * block by a driver), bit for bit. It is faster than that kernel: one call per
 * product instead of one per block, the epilogue branching once per block
 * instead of once per accumulator, no row-offset adds in the k loop. Tried
 * and dropped: unrolling the k loop by 2 or 4 by hand (slower: V8 already
 * unrolls small loops), 5 x 8 blocks (slower), a constant B stride and the
 * k loop in a function of its own (fewer spilled registers; no gain).
 */
function gemmKernel(fma: boolean): Func {
  const [a, aRS, aCS, b, bRS, c, cRS, M, N, K, bias, mask, mRS, relu, scratch] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  let nextLocal = 15;
  const local = (): number => nextLocal++;
  const [i, j, pa, paRS, paCS, k, src, dst, packed, ak, bk, bEnd, kBytes] = Array.from({ length: 13 }, local);
  const rOff = [0, local(), local(), local()];
  const ar = [ak, local(), local(), local()];
  const cr = [0, local(), local(), local()];
  const mr_ = [0, local(), local(), local()];
  const [cRow, mRow, cj, mj] = [local(), local(), local(), local()];
  const nI32 = nextLocal - 15;
  const ACC = nextLocal;
  const BV = ACC + 8;
  const SPL = BV + 2;
  const code = new Code();

  /** One step of k for an mr x 4nv block: A(r, k) at the address pushed by aAddr(r) plus aOff(r). */
  const step = (mr: number, nv: number, aAddr: (r: number) => void, aOff: (r: number) => number): void => {
    for (let v = 0; v < nv; v++) code.get(bk).vLoad(16 * v).set(BV + v);
    code.get(bk).get(bRS).add().set(bk);
    for (let r = 0; r < mr; r++) {
      aAddr(r);
      code.loadSplat(aOff(r)).set(SPL);
      for (let v = 0; v < nv; v++) {
        const acc = ACC + r * nv + v;
        if (fma) code.get(SPL).get(BV + v).get(acc).vMadd().set(acc);
        else code.get(SPL).get(BV + v).vMul().get(acc).vAdd().set(acc);
      }
    }
  };
  /**
   * The k loop for one A layout: 'stored' (A(r, k) = ak + rOff[r], ak += 4),
   * 'packed' (ak + 4r, ak += 16), 'transposed' read in place (ak + 4r,
   * ak += aCS) or 'generic' (ak + rOff[r], ak += aCS).
   */
  const kLoop = (mr: number, nv: number, layout: 'stored' | 'packed' | 'generic' | 'transposed'): void => {
    const rowsAt4r = layout === 'packed' || layout === 'transposed';
    code.get(bk).get(bEnd).ltU().if().loop();
    if (!rowsAt4r) for (let r = 1; r < mr; r++) code.get(ak).get(rOff[r]!).add().set(ar[r]!);
    step(mr, nv, (r) => code.get(rowsAt4r || r === 0 ? ak : ar[r]!), (r) => (rowsAt4r ? 4 * r : 0));
    if (layout === 'generic' || layout === 'transposed') code.get(ak).get(paCS).add().set(ak);
    else code.get(ak).i32(layout === 'packed' ? 16 : 4).add().set(ak);
    code.get(bk).get(bEnd).ltU().brIf(0);
    code.end().end();
  };
  /** One mr x 4nv block of C at rows i.., columns j.. */
  const block = (mr: number, nv: number): void => {
    // accumulators start at the bias (or zero)
    code.get(bias).eqz().if();
    for (let t = 0; t < mr * nv; t++) code.vZero().set(ACC + t);
    code.else();
    for (let v = 0; v < nv; v++) {
      code.get(bias).get(j).i32(4).mul().add().vLoad(16 * v).set(ACC + v);
      for (let r = 1; r < mr; r++) code.get(ACC + v).set(ACC + r * nv + v);
    }
    code.end();
    code.get(b).get(j).i32(4).mul().add().tee(bk);
    code.get(kBytes).add().set(bEnd);
    code.get(pa).set(ak);
    if (mr === 4) {
      code.get(packed).if();
      kLoop(mr, nv, 'packed');
      code.else();
      code.get(paRS).i32(4).op(0x46).if();
      kLoop(mr, nv, 'transposed');
      code.else();
      code.get(paCS).i32(4).op(0x46).if();
      kLoop(mr, nv, 'stored');
      code.else();
      kLoop(mr, nv, 'generic');
      code.end();
      code.end();
      code.end();
    } else {
      code.get(paCS).i32(4).op(0x46).if();
      kLoop(mr, nv, 'stored');
      code.else();
      kLoop(mr, nv, 'generic');
      code.end();
    }
    // epilogue: ReLU, or multiply by the mask (mask > 0), then store
    code.get(relu).if();
    for (let t = 0; t < mr * nv; t++) code.get(ACC + t).vZero().vMax().set(ACC + t);
    code.end();
    code.get(mask).if();
    code.get(mRow).get(j).i32(4).mul().add().set(mj);
    for (let r = 0; r < mr; r++) {
      for (let v = 0; v < nv; v++) {
        const acc = ACC + r * nv + v;
        code.get(acc).get(mj);
        if (r > 0) code.get(mr_[r]!).add();
        code.vLoad(16 * v).vZero().vGt().vAnd().set(acc);
      }
    }
    code.end();
    code.get(cRow).get(j).i32(4).mul().add().set(cj);
    for (let r = 0; r < mr; r++) {
      for (let v = 0; v < nv; v++) {
        code.get(cj);
        if (r > 0) code.get(cr[r]!).add();
        code.get(ACC + r * nv + v).vStore(16 * v);
      }
    }
  };

  // per call: K rows of B in bytes, row offsets of C and of the mask
  code.get(K).get(bRS).mul().set(kBytes);
  for (let r = 1; r < 4; r++) {
    code.get(cRS).i32(r).mul().set(cr[r]!);
    code.get(mRS).i32(r).mul().set(mr_[r]!);
  }
  // Row loop in blocks of `rows`, column loop in blocks of 8 then 4.
  const rowPass = (rows: number): void => {
    code.block().loop();
    code.get(i).i32(rows).add().get(M).leU().eqz().brIf(1);
    // the panel of A for rows i..i+rows-1: in place, or packed when A is read transposed
    code.get(a).get(i).get(aRS).mul().add().set(pa);
    code.get(aRS).set(paRS);
    code.get(aCS).set(paCS);
    code.i32(0).set(packed);
    if (rows === 4) {
      // aRS == 4 && aCS != 4 && K != 0 && N >= 8 (with one block per panel, reading A in place is faster)
      code.get(aRS).i32(4).op(0x46).get(aCS).i32(4).op(0x47).op(0x71).get(K).eqz().eqz().op(0x71).get(N).i32(8).op(0x4f).op(0x71).if();
      code.get(pa).set(src);
      code.i32(0).set(k);
      code.block().loop();
      code.get(scratch).get(k).i32(16).mul().add().get(src).vLoad().vStore();
      code.get(src).get(aCS).add().set(src);
      code.get(k).i32(1).add().tee(k).get(K).ltU().brIf(0);
      code.end().end();
      code.i32(1).set(packed);
      code.else();
      // A as stored (aCS == 4), scratch given, K != 0, N >= 8 (a panel read by more than one block):
      // the same layout, by 4 x 4 transposes in registers
      code.get(aCS).i32(4).op(0x46).get(scratch).eqz().eqz().op(0x71).get(K).eqz().eqz().op(0x71).get(N).i32(8).op(0x4f).op(0x71).if();
      for (let r = 1; r < 4; r++) code.get(aRS).i32(r).mul().set(rOff[r]!);
      code.get(pa).set(src);
      code.get(scratch).set(dst);
      code.i32(0).set(k);
      const [r0, r1, r2, r3, t0, t1, t2, t3] = Array.from({ length: 8 }, (_, t) => ACC + t);
      code.block().loop();
      code.get(k).i32(4).add().get(K).leU().eqz().brIf(1);
      code.get(src).vLoad().set(r0);
      for (const [r, reg] of [[1, r1], [2, r2], [3, r3]] as const) code.get(src).get(rOff[r]!).add().vLoad().set(reg);
      code.get(r0).get(r1).shuffle32([0, 4, 1, 5]).set(t0);
      code.get(r0).get(r1).shuffle32([2, 6, 3, 7]).set(t1);
      code.get(r2).get(r3).shuffle32([0, 4, 1, 5]).set(t2);
      code.get(r2).get(r3).shuffle32([2, 6, 3, 7]).set(t3);
      code.get(dst).get(t0).get(t2).shuffle32([0, 1, 4, 5]).vStore(0);
      code.get(dst).get(t0).get(t2).shuffle32([2, 3, 6, 7]).vStore(16);
      code.get(dst).get(t1).get(t3).shuffle32([0, 1, 4, 5]).vStore(32);
      code.get(dst).get(t1).get(t3).shuffle32([2, 3, 6, 7]).vStore(48);
      code.get(src).i32(16).add().set(src);
      code.get(dst).i32(64).add().set(dst);
      code.get(k).i32(4).add().set(k);
      code.op(0x0c).u(0);
      code.end().end();
      // K % 4 columns left: one float at a time
      code.get(k).get(K).ltU().if().loop();
      for (let r = 0; r < 4; r++) {
        code.get(dst).get(src);
        if (r > 0) code.get(rOff[r]!).add();
        code.f32Load().f32Store(4 * r);
      }
      code.get(src).i32(4).add().set(src);
      code.get(dst).i32(16).add().set(dst);
      code.get(k).i32(1).add().tee(k).get(K).ltU().brIf(0);
      code.end().end();
      code.i32(1).set(packed);
      code.end();
      code.end();
      code.get(packed).if();
      code.get(scratch).set(pa);
      code.i32(4).set(paRS);
      code.i32(16).set(paCS);
      code.end();
    }
    for (let r = 1; r < rows; r++) code.get(paRS).i32(r).mul().set(rOff[r]!);
    code.get(c).get(i).get(cRS).mul().add().set(cRow);
    code.get(mask).get(i).get(mRS).mul().add().set(mRow);
    code.i32(0).set(j);
    code.block().loop();
    code.get(j).i32(8).add().get(N).leU().eqz().brIf(1);
    block(rows, 2);
    code.get(j).i32(8).add().set(j);
    code.op(0x0c).u(0); // br 0 (continue)
    code.end().end();
    code.get(j).get(N).ltU().if();
    block(rows, 1);
    code.end();
    code.get(i).i32(rows).add().set(i);
    code.op(0x0c).u(0);
    code.end().end();
  };
  code.i32(0).set(i);
  rowPass(4);
  rowPass(1);
  return { name: 'gemm', params: Array.from({ length: 15 }, () => I32), locals: [[nI32, I32], [8 + 2 + 1, V128]], body: code };
}

/**
 * Columns per strip of the sparse product: 7 accumulators, 7 B vectors and the
 * splat fill the 15 SIMD registers V8 allocates on x64 (with 8, one accumulator
 * is spilled to the stack on every step, about 1.7x slower).
 */
export const SPARSE_STRIP = 28;

/** Floats of spgemm's packed copy of B (bp) for an N-column, K-row B. */
export function sparsePackFloats(N: number, K: number): number {
  return SPARSE_STRIP * K * (Math.ceil(N / SPARSE_STRIP) + SPARSE_STRIP / 4);
}

/**
 * spgemm(a, aRS, aCS, b, bRS, c, cRS, M, N, K, bias, mask, mRS, relu, list, rb, bp):
 * the product of gemm (same operands, strides and epilogues) for a left
 * operand with many exact zeros (a ReLU activation, or a gradient masked by
 * one, about half zero in the networks here): the zero terms are skipped.
 * B is first copied (when bp != 0) into column strips, each K rows of
 * SPARSE_STRIP columns (4 for the last N % SPARSE_STRIP columns) at a row
 * stride of 4 SPARSE_STRIP bytes, so that a strip is contiguous and stays in
 * the L1 cache (rows of B 1 KB apart all fall in a few cache sets);
 * bp needs 4 SPARSE_STRIP K (ceil(N / SPARSE_STRIP) + SPARSE_STRIP / 4) bytes.
 * Rows of A are taken in blocks of rb; each row's nonzero A(i, k) are listed
 * as (k times the B row stride, A(i, k)) pairs in `list` (rb i32 list ends,
 * padded to 16 bytes, then rb x K pairs: 4 (rb + 2 rb K) + 16 bytes), without
 * branches (a pair is always written, the write pointer advances only past a
 * nonzero); then every row of the block is multiplied by each strip. Each
 * element still sums its k in increasing order from the bias; a skipped term
 * is an exact zero (+-0 times a finite B), so the results are the numbers of
 * gemm (a sum of skipped terms only keeps the sign of its start, bias or +0,
 * where gemm could give -0 + 0 = +0; ReLU and the mask make them the same
 * downstream), except that a zero times an infinite or NaN B is skipped.
 */
function spgemmKernel(fma: boolean): Func {
  const NV = SPARSE_STRIP / 4;
  const SB = 4 * SPARSE_STRIP;
  const [a, aRS, aCS, b, bRS, c, cRS, M, N, K, bias, mask, mRS, relu, list, rb, bp] = Array.from({ length: 17 }, (_, t) => t);
  const [i0, rows, r, k, pa, e, eEnd, koff, j, bj, entries, p, rowBytes, step, strip, src] = Array.from({ length: 16 }, (_, t) => 17 + t);
  const VAL = 33;
  const ACC = 34;
  const SPL = ACC + NV;
  const code = new Code();
  // entries start after the rb list ends, 16-byte aligned; each row's pairs take 8K bytes
  code.get(list).get(rb).i32(4).mul().i32(15).add().i32(-16).and().add().set(entries);
  code.get(K).i32(8).mul().set(rowBytes);
  // the row step of B as the lists record it: packed strips or B in place
  code.get(bp).if().i32(SB).set(step).else().get(bRS).set(step).end();
  /** Copies the strips of nv vectors from column j on into bp (strip index `strip` on), while they fit. */
  const packStrips = (nv: number): void => {
    code.block().loop();
    code.get(j).i32(4 * nv).add().get(N).leU().eqz().brIf(1);
    code.get(b).get(j).i32(4).mul().add().set(src);
    code.get(bp).get(strip).get(K).mul().i32(SB).mul().add().set(p);
    code.i32(0).set(k);
    code.get(K).eqz().eqz().if().loop();
    for (let v = 0; v < nv; v++) code.get(p).get(src).vLoad(16 * v).vStore(16 * v);
    code.get(src).get(bRS).add().set(src);
    code.get(p).i32(SB).add().set(p);
    code.get(k).i32(1).add().tee(k).get(K).ltU().brIf(0);
    code.end().end();
    code.get(j).i32(4 * nv).add().set(j);
    code.get(strip).i32(1).add().set(strip);
    code.op(0x0c).u(0);
    code.end().end();
  };
  /** Multiplies every row of the block by the strip at column j (index `strip`, 4 nv wide). */
  const rowsLoop = (nv: number): void => {
    code.get(bp).if().get(bp).get(strip).get(K).mul().i32(SB).mul().add().set(bj);
    code.else().get(b).get(j).i32(4).mul().add().set(bj).end();
    code.i32(0).set(r);
    code.block().loop();
    code.get(r).get(rows).ltU().eqz().brIf(1);
    code.get(bias).eqz().if();
    for (let v = 0; v < nv; v++) code.vZero().set(ACC + v);
    code.else();
    for (let v = 0; v < nv; v++) code.get(bias).get(j).i32(4).mul().add().vLoad(16 * v).set(ACC + v);
    code.end();
    code.get(entries).get(r).get(rowBytes).mul().add().set(e);
    code.get(list).get(r).i32(4).mul().add().i32Load().set(eEnd);
    code.get(e).get(eEnd).ltU().if().loop();
    code.get(bj).get(e).i32Load().add().set(p);
    code.get(e).loadSplat(4).set(SPL);
    for (let v = 0; v < nv; v++) {
      if (fma) code.get(SPL).get(p).vLoad(16 * v).get(ACC + v).vMadd().set(ACC + v);
      else code.get(SPL).get(p).vLoad(16 * v).vMul().get(ACC + v).vAdd().set(ACC + v);
    }
    code.get(e).i32(8).add().tee(e).get(eEnd).ltU().brIf(0);
    code.end().end();
    code.get(relu).if();
    for (let v = 0; v < nv; v++) code.get(ACC + v).vZero().vMax().set(ACC + v);
    code.end();
    code.get(mask).if();
    code.get(mask).get(i0).get(r).add().get(mRS).mul().add().get(j).i32(4).mul().add().set(p);
    for (let v = 0; v < nv; v++) code.get(ACC + v).get(p).vLoad(16 * v).vZero().vGt().vAnd().set(ACC + v);
    code.end();
    code.get(c).get(i0).get(r).add().get(cRS).mul().add().get(j).i32(4).mul().add().set(p);
    for (let v = 0; v < nv; v++) code.get(p).get(ACC + v).vStore(16 * v);
    code.get(r).i32(1).add().set(r);
    code.op(0x0c).u(0);
    code.end().end();
  };
  /** The strips of nv vectors from column j on, for the current row block. */
  const stripsLoop = (nv: number): void => {
    code.block().loop();
    code.get(j).i32(4 * nv).add().get(N).leU().eqz().brIf(1);
    rowsLoop(nv);
    code.get(j).i32(4 * nv).add().set(j);
    code.get(strip).i32(1).add().set(strip);
    code.op(0x0c).u(0);
    code.end().end();
  };
  code.get(bp).if();
  code.i32(0).set(j);
  code.i32(0).set(strip);
  packStrips(NV);
  packStrips(1);
  code.end();
  code.i32(0).set(i0);
  code.block().loop();
  code.get(i0).get(M).ltU().eqz().brIf(1);
  code.get(M).get(i0).sub().set(rows);
  code.get(rows).get(rb).gtU().if().get(rb).set(rows).end();
  // the nonzero lists of rows i0 .. i0 + rows - 1
  code.i32(0).set(r);
  code.block().loop();
  code.get(r).get(rows).ltU().eqz().brIf(1);
  code.get(a).get(i0).get(r).add().get(aRS).mul().add().set(pa);
  code.get(entries).get(r).get(rowBytes).mul().add().set(e);
  code.i32(0).set(koff);
  code.i32(0).set(k);
  code.get(K).eqz().eqz().if().loop();
  code.get(pa).f32Load().set(VAL);
  code.get(e).get(koff).i32Store();
  code.get(e).get(VAL).f32Store(4);
  code.get(e).get(VAL).f32Const0().f32Ne().i32(3).shl().add().set(e);
  code.get(pa).get(aCS).add().set(pa);
  code.get(koff).get(step).add().set(koff);
  code.get(k).i32(1).add().tee(k).get(K).ltU().brIf(0);
  code.end().end();
  code.get(list).get(r).i32(4).mul().add().get(e).i32Store();
  code.get(r).i32(1).add().set(r);
  code.op(0x0c).u(0);
  code.end().end();
  // strips of SPARSE_STRIP columns, then of 4
  code.i32(0).set(j);
  code.i32(0).set(strip);
  stripsLoop(NV);
  stripsLoop(1);
  code.get(i0).get(rows).add().set(i0);
  code.op(0x0c).u(0);
  code.end().end();
  return { name: 'spgemm', params: Array.from({ length: 17 }, () => I32), locals: [[16, I32], [1, F32], [NV + 1, V128]], body: code };
}

/**
 * Columns per strip of the binary product (binmul): 8 accumulators (its inner
 * loop needs no splat); its table rows are 4 BIN_STRIP bytes apart.
 */
export const BIN_STRIP = 32;
/** Groups of 4 k per table chunk of binmul: 16 x 16 rows x 128 bytes = 32 KB, the L1 data cache. */
export const BIN_CHUNK = 16;

/** Floats of binmul's table (one chunk of one strip). */
export const BIN_TABLE_FLOATS = BIN_CHUNK * 16 * BIN_STRIP;

/** i32 of binlist's entry lists and chunk ends for an M x K 0/1 matrix. */
export function binListInts(M: number, K: number): { list: number; ends: number } {
  return { list: (M * K) / 4, ends: M * Math.ceil(K / 4 / BIN_CHUNK) };
}

/**
 * binlist(src, sRS, M, G, list, ends): the entry lists of binmul for the 0/1
 * matrix A(i, k) = [src(i, k) > 0] (M x 4G, row-major at row stride sRS
 * bytes): for row i and each group g of 4 columns, the code
 * c = sum_t 2^t A(i, 4g + t) (i32x4.bitmask of f32x4.gt) becomes the byte
 * offset (16 (g mod BIN_CHUNK) + c) 4 BIN_STRIP of its row in the table of
 * g's chunk; codes 0 are dropped without branching. Row i's entries start at
 * list + 16 G i; ends[i C + ch] (C = ceil(G / BIN_CHUNK) chunks) is where the
 * entries of its chunk ch end (the next chunk's start).
 */
function binlistKernel(): Func {
  const [src, sRS, M, G, list, ends] = [0, 1, 2, 3, 4, 5];
  const [r, g, p, e, cd, pe, gc] = [6, 7, 8, 9, 10, 11, 12];
  const code = new Code();
  code.i32(0).set(r);
  code.get(ends).set(pe);
  code.block().loop();
  code.get(r).get(M).ltU().eqz().brIf(1);
  code.get(src).get(r).get(sRS).mul().add().set(p);
  code.get(list).get(r).get(G).mul().i32(4).mul().add().set(e);
  code.i32(0).set(g);
  code.i32(0).set(gc);
  code.get(G).eqz().eqz().if().loop();
  // f32x4.gt(v, 0), then i32x4.bitmask
  code.get(p).vLoad().vZero().vGt().simd(0xa4).set(cd);
  code.get(e).get(gc).i32(4).shl().get(cd).add().i32(4 * BIN_STRIP).mul().i32Store();
  code.get(e).get(cd).eqz().eqz().i32(2).shl().add().set(e);
  code.get(p).i32(16).add().set(p);
  code.get(g).i32(1).add().set(g);
  // the end of a chunk (or of the row): record where its entries end
  code.get(gc).i32(1).add().tee(gc).i32(BIN_CHUNK).op(0x46).get(g).get(G).op(0x46).op(0x72).if();
  code.get(pe).get(e).i32Store();
  code.get(pe).i32(4).add().set(pe);
  code.i32(0).set(gc);
  code.end();
  code.get(g).get(G).ltU().brIf(0);
  code.end().end();
  code.get(r).i32(1).add().set(r);
  code.op(0x0c).u(0);
  code.end().end();
  return { name: 'binlist', params: Array.from({ length: 6 }, () => I32), locals: [[7, I32]], body: code };
}

/**
 * binmul(b, bRS, bScale, G, N, table, list, ends, M, c, cRS, rowScale, mask, mRS):
 * C (M x N) = diag(rowScale) A diag(bScale) B, then masked by mask > 0, for
 * the 0/1 matrix A (M x K, K = 4G) whose entries binlist wrote and B (K x N,
 * row stride bRS bytes, N a multiple of 4); bScale, rowScale, mask 0 for none.
 * The method of four Russians: for each group g of 4 rows of B, a table of the
 * 16 sums of its subsets (the scaled rows; a sum of two or more is the sum
 * without its highest row plus that row); each row of C then adds one table
 * row per group whose code is not 0: about K / 4 vector adds where a sparse
 * product does K / 2 multiply-adds at half density, and no splat. Per strip of
 * BIN_STRIP columns and chunk of BIN_CHUNK groups, the chunk's table (32 KB,
 * BIN_TABLE_FLOATS floats) is built, then every row adds its entries of that
 * chunk, keeping its running sums in C between chunks; the last chunk scales
 * and masks. Sums run in a fixed order (groups in order, subsets as above), so
 * the same inputs give the same bits; they are not gemm's bits (another order).
 */
function binmulKernel(): Func {
  const NV = BIN_STRIP / 4;
  const SB = 4 * BIN_STRIP;
  const [b, bRS, bScale, G, N, table, list, ends, M, c, cRS, rowScale, mask, mRS] = Array.from({ length: 14 }, (_, t) => t);
  const [j, w, g, o, pb, pt, r, e, eEnd, p, pc, ch, nch, g1, last] = Array.from({ length: 15 }, (_, t) => 14 + t);
  const T = 29; // 16 v128 locals: the subset sums of one group (T + 0 unused)
  const ACC = T + 16;
  const code = new Code();
  /** The table of chunk ch of the strip at column j (w bytes wide): groups g .. g1 - 1, each 16-byte column o. */
  const buildTable = (): void => {
    code.get(ch).i32(BIN_CHUNK).mul().set(g);
    code.block().loop();
    code.get(g).get(g1).ltU().eqz().brIf(1);
    code.i32(0).set(o);
    code.block().loop();
    code.get(o).get(w).ltU().eqz().brIf(1);
    // the 4 rows of B, scaled
    for (let t = 0; t < 4; t++) {
      code.get(b).get(g).i32(4).mul().i32(t).add().get(bRS).mul().add().get(j).i32(4).mul().add().get(o).add().vLoad().set(T + (1 << t));
    }
    code.get(bScale).if().get(bScale).get(g).i32(16).mul().add().set(pb);
    for (let t = 0; t < 4; t++) code.get(T + (1 << t)).get(pb).loadSplat(4 * t).vMul().set(T + (1 << t));
    code.end();
    for (let s = 3; s < 16; s++) {
      const hb = 1 << (31 - Math.clz32(s));
      if (hb === s) continue;
      code.get(T + (s ^ hb)).get(T + hb).vAdd().set(T + s);
    }
    code.get(table).get(g).get(ch).i32(BIN_CHUNK).mul().sub().i32(16 * SB).mul().add().get(o).add().set(pt);
    code.get(pt).vZero().vStore(0);
    for (let s = 1; s < 16; s++) code.get(pt).get(T + s).vStore(s * SB);
    code.get(o).i32(16).add().set(o);
    code.op(0x0c).u(0);
    code.end().end();
    code.get(g).i32(1).add().set(g);
    code.op(0x0c).u(0);
    code.end().end();
  };
  /** Every row of C, nv vectors from column 4 j + o, for chunk ch. */
  const rows = (nv: number): void => {
    code.i32(0).set(r);
    code.block().loop();
    code.get(r).get(M).ltU().eqz().brIf(1);
    code.get(c).get(r).get(cRS).mul().add().get(j).i32(4).mul().add().get(o).add().set(pc);
    code.get(ch).eqz().if();
    for (let v = 0; v < nv; v++) code.vZero().set(ACC + v);
    code.get(list).get(r).get(G).mul().i32(4).mul().add().set(e);
    code.else();
    for (let v = 0; v < nv; v++) code.get(pc).vLoad(16 * v).set(ACC + v);
    code.get(ends).get(r).get(nch).mul().get(ch).add().i32(1).sub().i32(4).mul().add().i32Load().set(e);
    code.end();
    code.get(ends).get(r).get(nch).mul().get(ch).add().i32(4).mul().add().i32Load().set(eEnd);
    code.get(table).get(o).add().set(pt);
    code.get(e).get(eEnd).ltU().if().loop();
    code.get(pt).get(e).i32Load().add().set(p);
    for (let v = 0; v < nv; v++) code.get(ACC + v).get(p).vLoad(16 * v).vAdd().set(ACC + v);
    code.get(e).i32(4).add().tee(e).get(eEnd).ltU().brIf(0);
    code.end().end();
    code.get(last).if();
    code.get(rowScale).if();
    for (let v = 0; v < nv; v++) code.get(ACC + v).get(rowScale).get(r).i32(4).mul().add().loadSplat().vMul().set(ACC + v);
    code.end();
    code.get(mask).if();
    code.get(mask).get(r).get(mRS).mul().add().get(j).i32(4).mul().add().get(o).add().set(p);
    for (let v = 0; v < nv; v++) code.get(ACC + v).get(p).vLoad(16 * v).vZero().vGt().vAnd().set(ACC + v);
    code.end();
    code.end();
    for (let v = 0; v < nv; v++) code.get(pc).get(ACC + v).vStore(16 * v);
    code.get(r).i32(1).add().set(r);
    code.op(0x0c).u(0);
    code.end().end();
  };
  // chunks: nch = ceil(G / BIN_CHUNK)
  code.get(G).i32(BIN_CHUNK - 1).add().i32(BIN_CHUNK).op(0x6e).set(nch); // i32.div_u
  code.i32(0).set(j);
  code.block().loop();
  code.get(j).get(N).ltU().eqz().brIf(1);
  // w: bytes of this strip (BIN_STRIP columns, fewer in the last)
  code.get(N).get(j).sub().i32(4).mul().set(w);
  code.get(w).i32(SB).gtU().if().i32(SB).set(w).end();
  code.i32(0).set(ch);
  code.block().loop();
  code.get(ch).get(nch).ltU().eqz().brIf(1);
  code.get(ch).i32(1).add().i32(BIN_CHUNK).mul().set(g1);
  code.get(g1).get(G).gtU().if().get(G).set(g1).end();
  code.get(ch).i32(1).add().get(nch).op(0x46).set(last);
  buildTable();
  code.get(w).i32(SB).op(0x46).if(); // i32.eq: a whole strip
  code.i32(0).set(o);
  rows(NV);
  code.else();
  // the last, narrower strip: one vector column at a time
  code.i32(0).set(o);
  code.block().loop();
  code.get(o).get(w).ltU().eqz().brIf(1);
  rows(1);
  code.get(o).i32(16).add().set(o);
  code.op(0x0c).u(0);
  code.end().end();
  code.end();
  code.get(ch).i32(1).add().set(ch);
  code.op(0x0c).u(0);
  code.end().end();
  code.get(j).i32(BIN_STRIP).add().set(j);
  code.op(0x0c).u(0);
  code.end().end();
  return { name: 'binmul', params: Array.from({ length: 14 }, () => I32), locals: [[15, I32], [16 + NV, V128]], body: code };
}

/**
 * transpose(src, dst, R, C): dst (C x R) = src (R x C)^T, R and C multiples of
 * 4, in 4 x 4 tiles transposed in registers with eight lane shuffles, taken in
 * blocks of 16 source rows (row by row, every tile of a column range wrote to
 * the same few cache sets of dst: 1 KB rows, 4 KB apart per tile).
 */
function transposeKernel(): Func {
  const [src, dst, R, C, i, j, p, q, i0, iEnd] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const r = [10, 11, 12, 13];
  const t = [14, 15, 16, 17];
  const code = new Code();
  /** f32 lane indices (0..3 from the first operand, 4..7 from the second) as i8x16.shuffle bytes. */
  const shuffle = (lanes: number[]): void => {
    code.simd(0x0d);
    for (const l of lanes) for (let byte = 0; byte < 4; byte++) code.b.push(4 * l + byte);
  };
  code.get(R).eqz().get(C).eqz().op(0x72).eqz().if(); // R != 0 && C != 0
  // blocks of 16 source rows: the 4 x 4 tiles of a block that share a column range go out as whole
  // 64-byte lines of dst, and the block's source lines are reused across the column loop
  code.i32(0).set(i0);
  code.block().loop();
  code.get(i0).i32(16).add().tee(iEnd).get(R).gtU().if().get(R).set(iEnd).end();
  code.i32(0).set(j);
  code.block().loop();
  code.get(i0).set(i);
  code.block().loop();
  // p = src + (i*C + j)*4, q = dst + (j*R + i)*4
  code.get(src).get(i).get(C).mul().get(j).add().i32(4).mul().add().set(p);
  code.get(dst).get(j).get(R).mul().get(i).add().i32(4).mul().add().set(q);
  for (let k = 0; k < 4; k++) code.get(p).get(C).i32(4 * k).mul().add().vLoad().set(r[k]!);
  code.get(r[0]!).get(r[1]!);
  shuffle([0, 4, 1, 5]);
  code.set(t[0]!);
  code.get(r[0]!).get(r[1]!);
  shuffle([2, 6, 3, 7]);
  code.set(t[1]!);
  code.get(r[2]!).get(r[3]!);
  shuffle([0, 4, 1, 5]);
  code.set(t[2]!);
  code.get(r[2]!).get(r[3]!);
  shuffle([2, 6, 3, 7]);
  code.set(t[3]!);
  const out = (k: number, x: number, y: number, lanes: number[]): void => {
    code.get(q).get(R).i32(4 * k).mul().add();
    code.get(x).get(y);
    shuffle(lanes);
    code.vStore();
  };
  out(0, t[0]!, t[2]!, [0, 1, 4, 5]);
  out(1, t[0]!, t[2]!, [2, 3, 6, 7]);
  out(2, t[1]!, t[3]!, [0, 1, 4, 5]);
  out(3, t[1]!, t[3]!, [2, 3, 6, 7]);
  code.get(i).i32(4).add().tee(i).get(iEnd).ltU().brIf(0);
  code.end().end();
  code.get(j).i32(4).add().tee(j).get(C).ltU().brIf(0);
  code.end().end();
  code.get(i0).i32(16).add().tee(i0).get(R).ltU().brIf(0);
  code.end().end();
  code.end();
  return { name: 'transpose', params: [I32, I32, I32, I32], locals: [[6, I32], [8, V128]], body: code };
}

/** colsum(src, dst, R, C): dst[j] = sum_i src[i, j], C a multiple of 4; rows summed in order. */
function colsumKernel(): Func {
  const [src, dst, R, C, i, j, p] = [0, 1, 2, 3, 4, 5, 6];
  const acc = 7;
  const code = new Code();
  code.get(C).eqz().eqz().if();
  code.i32(0).set(j);
  code.block().loop();
  code.vZero().set(acc);
  code.get(src).get(j).i32(4).mul().add().set(p);
  code.i32(0).set(i);
  code.get(R).eqz().eqz().if();
  code.block().loop();
  code.get(acc).get(p).vLoad().vAdd().set(acc);
  code.get(p).get(C).i32(4).mul().add().set(p);
  code.get(i).i32(1).add().tee(i).get(R).ltU().brIf(0);
  code.end().end();
  code.end();
  code.get(dst).get(j).i32(4).mul().add().get(acc).vStore();
  code.get(j).i32(4).add().tee(j).get(C).ltU().brIf(0);
  code.end().end();
  code.end();
  return { name: 'colsum', params: [I32, I32, I32, I32], locals: [[3, I32], [1, V128]], body: code };
}

const F64 = 0x7c;

/**
 * Elementwise optimizer kernels, in f64x2 so that they give the same bits as
 * the scalar JS loops they replace (src/nn/adam.ts): every f32 is promoted to
 * f64, the arithmetic runs in f64 in the same order as the JS expression, and
 * each stored result is rounded once to f32 (f32x4.demote_f64x2_zero rounds to
 * nearest even, as a Float32Array store does). Two elements per iteration
 * (v128.load64_zero / v128.store64_lane); n must be even (callers pad with
 * zeros, which these kernels leave at zero / unchanged).
 *
 * adam(p, g, m, v, n, b1, b2, c1, c2, stepSize, bc2, eps), per element:
 *   mi = b1 m + c1 g;  vi = b2 v + (c2 g) g;  m = f32(mi);  v = f32(vi)
 *   p = f32(p - (stepSize mi) / (sqrt(vi) / bc2 + eps))
 * (mi, vi unrounded in the update, as in the JS loop).
 * polyak(t, s, n, tau, keep): t = f32(tau s + keep t).
 */
function adamKernel(): Func {
  const [p, g, m, v, n, b1, b2, c1, c2, ss, bc2, eps] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const o = 12;
  const end = 13;
  const [B1, B2, C1, C2, SS, BC2, EPS, G, MI, VI] = [14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  const c = new Code();
  const splat = (from: number, to: number): void => {
    c.get(from).simd(0x14).set(to); // f64x2.splat
  };
  /** v128.load64_zero then f64x2.promote_low_f32x4: two f32 at base + o as f64x2. */
  const load2 = (base: number): void => {
    c.get(base).get(o).add().simd(0x5d).u(3).u(0).simd(0x5f);
  };
  /** f32x4.demote_f64x2_zero of `val`, then v128.store64_lane (lane 0) at base + o. */
  const store2 = (base: number, val: () => void): void => {
    c.get(base).get(o).add();
    val();
    c.simd(0x5e).simd(0x5b).u(3).u(0).op(0);
  };
  const [add, sub, mul, div, sqrt] = [0xf0, 0xf1, 0xf2, 0xf3, 0xef];
  c.get(n).eqz().eqz().if();
  splat(b1, B1);
  splat(b2, B2);
  splat(c1, C1);
  splat(c2, C2);
  splat(ss, SS);
  splat(bc2, BC2);
  splat(eps, EPS);
  c.get(n).i32(4).mul().set(end);
  c.i32(0).set(o);
  c.block().loop();
  load2(g);
  c.set(G);
  // mi = b1 m + c1 g
  c.get(B1);
  load2(m);
  c.simd(mul).get(C1).get(G).simd(mul).simd(add).set(MI);
  // vi = b2 v + (c2 g) g
  c.get(B2);
  load2(v);
  c.simd(mul).get(C2).get(G).simd(mul).get(G).simd(mul).simd(add).set(VI);
  store2(m, () => c.get(MI));
  store2(v, () => c.get(VI));
  store2(p, () => {
    load2(p);
    c.get(SS).get(MI).simd(mul);
    c.get(VI).simd(sqrt).get(BC2).simd(div).get(EPS).simd(add);
    c.simd(div).simd(sub);
  });
  c.get(o).i32(8).add().tee(o).get(end).ltU().brIf(0);
  c.end().end();
  c.end();
  return { name: 'adam', params: [I32, I32, I32, I32, I32, F64, F64, F64, F64, F64, F64, F64], locals: [[2, I32], [10, V128]], body: c };
}

/**
 * adam32(p, g, m, v, n, c1, b2, c2, stepSize, bc2, eps): Adam in f32x4 (c1 = 1 - b1, c2 = 1 - b2),
 * every operation rounded to f32, in the operation order of torch's
 * single-tensor Adam (exp_avg.lerp_(g, 1 - b1); exp_avg_sq.mul_(b2).addcmul_(g,
 * g, value=1 - b2); denom = sqrt(v) / bc2 + eps; p.addcdiv_(m, denom, -stepSize)):
 *   m = m + c1 (g - m);  v = b2 v + (c2 g) g;  p = p - (stepSize m) / (sqrt(v) / bc2 + eps)
 * with the constants given as f32. n a multiple of 4 (zero padding stays zero).
 */
function adam32Kernel(): Func {
  const [p, g, m, v, n, c1, b2, c2, ss, bc2, eps] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const o = 11;
  const end = 12;
  const [C1, B2, C2, SS, BC2, EPS, G, MI, VI] = [13, 14, 15, 16, 17, 18, 19, 20, 21];
  const c = new Code();
  const F32 = 0x7d;
  for (const [from, to] of [[c1, C1], [b2, B2], [c2, C2], [ss, SS], [bc2, BC2], [eps, EPS]] as const) c.get(from).simd(0x13).set(to); // f32x4.splat
  const at = (base: number): Code => c.get(base).get(o).add();
  c.get(n).i32(4).mul().set(end);
  c.i32(0).set(o);
  c.get(n).eqz().eqz().if();
  c.block().loop();
  at(g).vLoad().set(G);
  // mi = m + c1 (g - m)
  at(m).vLoad().set(MI);
  c.get(MI).get(C1).get(G).get(MI).simd(0xe5).vMul().vAdd().set(MI);
  // vi = b2 v + (c2 g) g
  c.get(B2);
  at(v).vLoad();
  c.vMul().get(C2).get(G).vMul().get(G).vMul().vAdd().set(VI);
  at(m).get(MI).vStore();
  at(v).get(VI).vStore();
  // p = p - (ss mi) / (sqrt(vi) / bc2 + eps)
  at(p);
  at(p).vLoad();
  c.get(SS).get(MI).vMul();
  c.get(VI).simd(0xe3).get(BC2).simd(0xe7).get(EPS).vAdd();
  c.simd(0xe7).simd(0xe5).vStore();
  c.get(o).i32(16).add().tee(o).get(end).ltU().brIf(0);
  c.end().end();
  c.end();
  return { name: 'adam32', params: [I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32], locals: [[2, I32], [9, V128]], body: c };
}

function polyakKernel(): Func {
  const [t, s, n, tau, keep] = [0, 1, 2, 3, 4];
  const o = 5;
  const end = 6;
  const [TAU, KEEP] = [7, 8];
  const c = new Code();
  c.get(n).eqz().eqz().if();
  c.get(tau).simd(0x14).set(TAU);
  c.get(keep).simd(0x14).set(KEEP);
  c.get(n).i32(4).mul().set(end);
  c.i32(0).set(o);
  c.block().loop();
  c.get(t).get(o).add();
  c.get(TAU).get(s).get(o).add().simd(0x5d).u(3).u(0).simd(0x5f).simd(0xf2);
  c.get(KEEP).get(t).get(o).add().simd(0x5d).u(3).u(0).simd(0x5f).simd(0xf2);
  c.simd(0xf0).simd(0x5e).simd(0x5b).u(3).u(0).op(0);
  c.get(o).i32(8).add().tee(o).get(end).ltU().brIf(0);
  c.end().end();
  c.end();
  return { name: 'polyak', params: [I32, I32, I32, F64, F64], locals: [[2, I32], [2, V128]], body: c };
}

export interface OptimKernels {
  /** See adamKernel: byte addresses, n even, the f64 constants as computed by the JS Adam. */
  adam(p: number, g: number, m: number, v: number, n: number, b1: number, b2: number, c1: number, c2: number, stepSize: number, bc2: number, eps: number): void;
  /** See adam32Kernel: byte addresses, n a multiple of 4, the constants rounded to f32 on the way in. */
  adam32(p: number, g: number, m: number, v: number, n: number, c1: number, b2: number, c2: number, stepSize: number, bc2: number, eps: number): void;
  /** t = tau s + keep t, n even. */
  polyak(t: number, s: number, n: number, tau: number, keep: number): void;
}

let optimCompiled: WebAssembly.Module | null = null;

/** The optimizer kernel module (Adam in f64 and f32, Polyak), assembled once per process. */
export function optimModule(): WebAssembly.Module {
  optimCompiled ??= new WebAssembly.Module(assemble([adamKernel(), adam32Kernel(), polyakKernel()]));
  return optimCompiled;
}

export interface WasmKernels {
  /** See the module comment and gemmKernel. Addresses and strides in bytes; N a multiple of 4; bias / mask 0 for none; relu 0 or 1; scratch 4K floats, or 0 to read A as stored in place (it must be given when A is read transposed and N >= 8). */
  gemm(a: number, aRS: number, aCS: number, b: number, bRS: number, c: number, cRS: number, M: number, N: number, K: number, bias: number, mask: number, mRS: number, relu: number, scratch: number): void;
  /** gemm skipping the zeros of A (see spgemmKernel): list holds 4 (rb + 2 rb K) + 16 bytes, rb >= 1 rows per block; bp 0 (B read in place) or sparsePackFloats(N, K) floats. */
  spgemm(a: number, aRS: number, aCS: number, b: number, bRS: number, c: number, cRS: number, M: number, N: number, K: number, bias: number, mask: number, mRS: number, relu: number, list: number, rb: number, bp: number): void;
  /** See binlistKernel: byte addresses; list and ends of binListInts(M, 4G) i32. */
  binlist(src: number, sRS: number, M: number, G: number, list: number, ends: number): void;
  /** See binmulKernel: byte addresses and strides; G >= 1; table BIN_TABLE_FLOATS floats; bScale, rowScale, mask 0 for none. */
  binmul(b: number, bRS: number, bScale: number, G: number, N: number, table: number, list: number, ends: number, M: number, c: number, cRS: number, rowScale: number, mask: number, mRS: number): void;
  /** rows and cols multiples of 4. */
  transpose(src: number, dst: number, rows: number, cols: number): void;
  colsum(src: number, dst: number, rows: number, cols: number): void;
}

const compiled = new Map<boolean, WebAssembly.Module>();

/** The compiled kernel module, with or without fused multiply-add (assembled once per process and variant). */
export function kernelModule(fma: boolean): WebAssembly.Module {
  let m = compiled.get(fma);
  if (!m) {
    m = new WebAssembly.Module(
      assemble([gemmKernel(fma), transposeKernel(), colsumKernel(), spgemmKernel(fma), binlistKernel(), binmulKernel()]),
    );
    compiled.set(fma, m);
  }
  return m;
}

/** Whether this runtime validates relaxed SIMD (f32x4.relaxed_madd) as it is. */
export function relaxedSimdAvailable(): boolean {
  const c = new Code();
  c.get(0).get(1).get(2).vMadd();
  const probe: Func = { name: null, params: [V128, V128, V128], locals: [], body: c };
  // a function that computes but returns nothing: drop the v128
  probe.body.op(0x1a);
  return WebAssembly.validate(assemble([probe]));
}

/** Parses OFFPOLICY_WASM_FMA: unset / '' / '0' / 'off' (the default), '1' / 'on', 'auto'. */
export function parseFmaSetting(raw: string | undefined): 'auto' | 'on' | 'off' {
  const v = (raw ?? 'off').trim().toLowerCase();
  if (v === 'auto') return 'auto';
  if (v === '1' || v === 'on') return 'on';
  if (v === '' || v === '0' || v === 'off') return 'off';
  throw new OffpolicyError('E_WASM_FMA', `OFFPOLICY_WASM_FMA must be 0, 1 or auto; got '${raw}'.`, {
    hint: 'Unset it or set 0 for the plain kernels (the same bytes on every machine), 1 to force fused multiply-add, auto to use it when the runtime supports relaxed SIMD.',
  });
}

let fmaChoice: boolean | null = null;

/**
 * Whether the kernels use fused multiply-add (decided once per process):
 * OFFPOLICY_WASM_FMA=1 turns it on (on Node 20 by enabling V8's
 * --experimental-wasm-relaxed-simd at run time; relaxed SIMD is on by default
 * from V8 11.4, i.e. Node 22), 'auto' uses it when the runtime already
 * validates relaxed SIMD, unset or 0 turns it off. Off is the default because
 * relaxed_madd may fuse on one CPU and not on another, so the same seed would
 * no longer give the same bytes on every machine; on for speed.
 * With FMA a product rounds once per multiply-add instead of twice: the last
 * bits differ from the plain kernel, and are the same on every run on a given
 * machine.
 */
export function wasmFmaEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (fmaChoice !== null) return fmaChoice;
  const setting = parseFmaSetting(env.OFFPOLICY_WASM_FMA);
  if (setting === 'off') fmaChoice = false;
  else if (setting === 'auto') fmaChoice = relaxedSimdAvailable();
  else {
    if (!relaxedSimdAvailable()) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    if (!relaxedSimdAvailable()) {
      throw new OffpolicyError('E_WASM_FMA', 'OFFPOLICY_WASM_FMA=1 asks for fused multiply-add, but this runtime does not accept WebAssembly relaxed SIMD.', {
        hint: 'Use Node 22 or later, or unset OFFPOLICY_WASM_FMA to use the plain SIMD kernels.',
      });
    }
    fmaChoice = true;
  }
  return fmaChoice;
}

/** The engine that trains and runs the networks, as training records it: plain or fused multiply-add SIMD kernels. */
export function engineName(): string {
  return wasmFmaEnabled() ? 'wasm-simd-fma' : 'wasm-simd';
}

/**
 * A growable wasm memory with a bump allocator and the kernels bound to it.
 * Float32Array views are re-created after the memory grows (growing detaches
 * the old buffer), so take `f32()` after the last `alloc()`.
 */
export class WasmArena {
  readonly memory: WebAssembly.Memory;
  readonly k: WasmKernels;
  private top = 64;
  private view: Float32Array;

  /** Whether this arena's kernels use fused multiply-add (see wasmFmaEnabled). */
  readonly fma: boolean;

  constructor(fma = wasmFmaEnabled()) {
    this.fma = fma;
    this.memory = new WebAssembly.Memory({ initial: 16 });
    this.k = new WebAssembly.Instance(kernelModule(fma), { env: { memory: this.memory } }).exports as unknown as WasmKernels;
    this.view = new Float32Array(this.memory.buffer);
  }

  /** Allocates `floats` f32 (zeroed, 16-byte aligned); returns the byte address. */
  alloc(floats: number): number {
    const at = this.top;
    this.top += Math.ceil((floats * 4) / 16) * 16;
    const need = this.top - this.memory.buffer.byteLength;
    if (need > 0) this.memory.grow(Math.ceil(need / 65536));
    return at;
  }

  /** A Float32Array over the whole memory (index = byte address / 4). */
  f32(): Float32Array {
    if (this.view.buffer !== this.memory.buffer) this.view = new Float32Array(this.memory.buffer);
    return this.view;
  }
}
