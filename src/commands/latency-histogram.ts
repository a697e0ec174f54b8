// A command's latency histogram as Redis 7.0.15 keeps it (deps/hdr_histogram, set up by
// server.c's updateCommandLatencyHistogram): an HDR histogram of nanoseconds from 1 to
// 1,000,000,000 with 2 significant figures, each value clamped into that range. Its figures are
// the ones Redis prints: INFO latencystats' percentiles (hdr_value_at_percentile) and LATENCY
// HISTOGRAM's buckets (latency.c's fillCommandCDF: a logarithmic iteration from 1024 ns, base 2,
// each bucket named by its highest equivalent value in whole microseconds, empty steps left out).
// Layout (from the library's bucket configuration for these parameters): 256 sub-buckets
// (2 × 10^2 rounded up to a power of two), half of them, 128, per bucket after the first;
// a value's bucket is the power of two above it less 8, its sub-bucket the value shifted right
// by the bucket; 23 buckets cover 10^9, so 24 × 128 = 3072 counts.
// Invariants: total === the sum of counts; every index is < COUNTS_LENGTH (values are clamped
// below 2^30, so 32-bit arithmetic is exact).

const LOWEST_NS = 1
const HIGHEST_NS = 1_000_000_000
const SUB_BUCKET_HALF_COUNT_MAGNITUDE = 7
const SUB_BUCKET_HALF_COUNT = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE
const SUB_BUCKET_COUNT = SUB_BUCKET_HALF_COUNT * 2
const SUB_BUCKET_MASK = SUB_BUCKET_COUNT - 1
const BUCKET_COUNT = 23
export const COUNTS_LENGTH = (BUCKET_COUNT + 1) * SUB_BUCKET_HALF_COUNT

/** The bucket of a value: the smallest power of two holding it (with the mask) less 8. */
function bucketOf(value: number): number {
  return 32 - Math.clz32(value | SUB_BUCKET_MASK) - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)
}

function indexOf(value: number): number {
  const bucket = bucketOf(value)
  const sub = value >>> bucket
  return ((bucket + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + (sub - SUB_BUCKET_HALF_COUNT)
}

/** The lowest value counted at an index. */
export function valueAtIndex(index: number): number {
  let bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1
  let sub = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT
  if (bucket < 0) {
    sub -= SUB_BUCKET_HALF_COUNT
    bucket = 0
  }
  return sub * 2 ** bucket
}

/** The lowest value equivalent to `value` (counted at the same index). */
export function lowestEquivalent(value: number): number {
  const bucket = bucketOf(value)
  return (value >>> bucket) * 2 ** bucket
}

/** The width of the range of values equivalent to `value`. */
function rangeSize(value: number): number {
  const bucket = bucketOf(value)
  const sub = value >>> bucket
  return 2 ** (sub >= SUB_BUCKET_COUNT ? bucket + 1 : bucket)
}

/** The highest value equivalent to `value`. */
export function highestEquivalent(value: number): number {
  return lowestEquivalent(value) + rangeSize(value) - 1
}

export class LatencyHistogram {
  readonly counts = new Float64Array(COUNTS_LENGTH)
  total = 0

  /** One call of `ns` nanoseconds (clamped to 1 ns .. 1 s, as Redis). */
  record(ns: number): void {
    const value = Math.min(HIGHEST_NS, Math.max(LOWEST_NS, Math.floor(ns)))
    const index = indexOf(value)
    this.counts[index] = (this.counts[index] as number) + 1
    this.total++
  }

  /**
   * hdr_value_at_percentile: the value below which `percentile` % of the calls fall, as the
   * highest value equivalent to the index reaching that count (the lowest for percentile 0).
   */
  valueAtPercentile(percentile: number): number {
    const requested = Math.min(percentile, 100)
    const wanted = Math.max(1, Math.trunc((requested / 100) * this.total + 0.5))
    let value = 0
    let sum = 0
    for (let i = 0; i < COUNTS_LENGTH; i++) {
      sum += this.counts[i] as number
      if (sum >= wanted) {
        value = valueAtIndex(i)
        break
      }
    }
    return percentile === 0 ? lowestEquivalent(value) : highestEquivalent(value)
  }

  /**
   * LATENCY HISTOGRAM's [microseconds, cumulative calls] pairs (fillCommandCDF over
   * hdr_iter_log_init(1024, 2)): at each reporting level (1024 ns, doubling) the iteration
   * stops at the first index whose value reaches the level's lowest equivalent; a pair is its
   * highest equivalent value in whole microseconds and the calls counted up to it, given only
   * when that count grew.
   */
  buckets(): [number, number][] {
    const out: [number, number][] = []
    let level = 1024
    let levelLowest = lowestEquivalent(level)
    let index = -1
    let value = 0
    let cumulative = 0
    let previous = 0
    const emit = (): void => {
      if (cumulative > previous) out.push([Math.trunc(highestEquivalent(value) / 1000), cumulative])
      previous = cumulative
    }
    const nextValueAbove = (bound: number): boolean =>
      index < COUNTS_LENGTH && valueAtIndex(index + 1) > bound
    while (cumulative < this.total || nextValueAbove(levelLowest)) {
      let ended = false
      while (value < levelLowest) {
        index++
        if (index >= COUNTS_LENGTH) {
          ended = true
          break
        }
        cumulative += this.counts[index] as number
        value = valueAtIndex(index)
      }
      emit()
      if (ended) break
      level *= 2
      levelLowest = lowestEquivalent(level)
    }
    return out
  }
}
