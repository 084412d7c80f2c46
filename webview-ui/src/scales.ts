/**
 * The numeric side of the panel's charts, without DOM (unit-tested in test/unit/webview): where
 * a value lands on an axis, which range a chart shows, which level thresholds a crossbar's
 * column chart marks.
 */

/** A linear map from [domainMin, domainMax] onto [rangeStart, rangeEnd] (a degenerate domain maps to the range's middle). */
export function linearScale(domainMin: number, domainMax: number, rangeStart: number, rangeEnd: number): (value: number) => number {
	const span = domainMax - domainMin;
	if (!(span > 0)) {
		const middle = (rangeStart + rangeEnd) / 2;
		return () => middle;
	}
	return (value) => rangeStart + ((value - domainMin) / span) * (rangeEnd - rangeStart);
}

/** The y range of a line chart: the data (and `include`) with 8 % room on each side; a flat series gets ±5 % of its value. */
export function paddedRange(values: readonly number[], include: readonly number[] = []): { dataMin: number; dataMax: number; min: number; max: number } {
	const all = [...values, ...include];
	const dataMin = all.length ? Math.min(...all) : 0;
	const dataMax = all.length ? Math.max(...all) : 1;
	const pad = dataMax - dataMin < 1e-9 ? Math.abs(dataMax) * 0.05 || 0.5 : (dataMax - dataMin) * 0.08;
	return { dataMin, dataMax, min: dataMin - pad, max: dataMax + pad };
}

/** The y ticks of a line chart: the data's own min, middle and max (one tick for flat data). */
export function rangeTicks(dataMin: number, dataMax: number): number[] {
	return dataMax - dataMin < 1e-9 ? [dataMin] : [dataMin, (dataMin + dataMax) / 2, dataMax];
}

/**
 * The non-zero counts at which a column of `columnLength` rows moves to level k = 1, 2, …:
 * a crossbar is at level ≥ k when its densest column has ≤ n/2^k non-zeros (docs/method.md §3).
 * Levels past B−2 and fractions below one weight are left out.
 */
export function levelThresholds(columnLength: number, bins: number): { level: number; nonZeros: number }[] {
	const thresholds: { level: number; nonZeros: number }[] = [];
	for (let k = 1; k < bins - 1 && columnLength / 2 ** k >= 1; k++) {
		thresholds.push({ level: k, nonZeros: columnLength / 2 ** k });
	}
	return thresholds;
}
