/** Number formatting for the panel; the improvement text is the CLI's (formatImprovement in src/cli/format.ts). */

export function formatImprovement(value: number | null): string {
	return value === null ? '∞ (all crossbars empty)' : `${value.toFixed(value >= 100 ? 1 : value >= 10 ? 2 : 3)}×`;
}

export function shortRatio(value: number | null): string {
	return value === null ? '∞' : `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)}×`;
}

export function percent(part: number, whole: number): string {
	return whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)}%`;
}

export function integer(value: number): string {
	return value.toLocaleString('en-US');
}

/** Compact: integers as they are, others with 3 significant digits. */
export function compact(value: number): string {
	if (Number.isInteger(value)) return integer(value);
	return Math.abs(value) >= 1000 ? integer(Math.round(value)) : String(Number(value.toPrecision(3)));
}

export function bytes(count: number): string {
	const units = ['B', 'KB', 'MB', 'GB'];
	let value = count;
	let unit = 0;
	while (value >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}
	return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function picojoules(pj: number): string {
	const units: [number, string][] = [[1e9, 'mJ'], [1e6, 'µJ'], [1e3, 'nJ'], [1, 'pJ']];
	const [scale, unit] = units.find(([s]) => pj >= s) ?? [1, 'pJ'];
	return `${(pj / scale).toFixed(2)} ${unit}`;
}

export function time(ms: number): string {
	if (!ms) return '–';
	const date = new Date(ms);
	const today = new Date();
	return date.toDateString() === today.toDateString() ? date.toLocaleTimeString() : date.toLocaleString();
}
