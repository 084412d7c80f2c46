/**
 * Every number formatter of the views, in one place: the CLI tables, the HTML/CSV reports, the
 * panel, the CodeLens, the status bar and the log all print the same text for the same figure.
 * Pure (no Node, no DOM): imported by the host, the CLI and the webview.
 */

/** The improvement as the CLI and the panel's cards print it: 3 decimals below 10×, ∞ when every crossbar is empty. */
export function formatImprovement(value: number | null): string {
	return value === null ? '∞ (all crossbars empty)' : `${value.toFixed(value >= 100 ? 1 : value >= 10 ? 2 : 3)}×`;
}

/** The short improvement of badges, bars and CodeLens: 2 decimals below 10× (so 1.27× stays visible), ∞ for all-empty. */
export function formatRatio(value: number | null): string {
	return value === null ? '∞' : `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)}×`;
}

/** `part` as a percentage of `whole` with one decimal ("–" for an empty whole). */
export function formatPercent(part: number, whole: number): string {
	return whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)}%`;
}

/** An accuracy in percent: 2 decimals (1 where space is short) and a space before %, "–" when unknown. */
export function formatAccuracy(value: number | null | undefined, decimals = 2): string {
	return value === null || value === undefined ? '–' : `${value.toFixed(decimals)} %`;
}

/** An integer with thousands separators (en-US, so output does not depend on the machine's locale). */
export function formatInteger(value: number): string {
	return value.toLocaleString('en-US');
}

/** Integers as they are, others with 3 significant digits (energies in units of a law). */
export function formatCompact(value: number): string {
	if (Number.isInteger(value)) return formatInteger(value);
	return Math.abs(value) >= 1000 ? formatInteger(Math.round(value)) : String(Number(value.toPrecision(3)));
}

/** A byte count in B/KB/MB/GB (binary units). */
export function formatBytes(count: number): string {
	const units = ['B', 'KB', 'MB', 'GB'];
	let value = count;
	let unit = 0;
	while (value >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}
	return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Picojoules in the largest unit that keeps the value ≥ 1. */
export function formatPj(pj: number): string {
	const units: [number, string][] = [[1e9, 'mJ'], [1e6, 'µJ'], [1e3, 'nJ'], [1, 'pJ']];
	const [scale, unit] = units.find(([s]) => pj >= s) ?? [1, 'pJ'];
	return `${(pj / scale).toFixed(2)} ${unit}`;
}

/** A file time: the time of day when it is today, else date and time (the viewer's locale). */
export function formatTime(ms: number): string {
	if (!ms) return '–';
	const date = new Date(ms);
	return date.toDateString() === new Date().toDateString() ? date.toLocaleTimeString() : date.toLocaleString();
}

/** JSON with number arrays kept on one line (crossbar grids stay readable). */
export function toJson(value: unknown): string {
	return JSON.stringify(value, null, 2).replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_, items: string) => `[${items.split(/,\s*/).join(', ')}]`);
}
