/** Round to three decimals (ratios and rates in load reports). */
export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
