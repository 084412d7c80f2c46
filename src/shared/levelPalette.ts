/**
 * Colours of crossbar sparsity levels, shared by the panel's heatmaps and the HTML report so a
 * level looks the same everywhere. The ramp is viridis (perceptually uniform, colour-blind safe,
 * monotone in lightness) trimmed at both ends so its darkest and lightest stops still stand out
 * on dark, light and high-contrast backgrounds; an empty crossbar is a translucent grey that
 * takes the background's tone.
 */

export type Rgba = readonly [number, number, number, number];

// matplotlib's viridis at 0, 1/8, …, 1.
const viridis: readonly (readonly [number, number, number])[] = [
	[68, 1, 84], [71, 45, 123], [59, 82, 139], [44, 114, 142], [33, 145, 140],
	[40, 174, 128], [94, 201, 98], [173, 220, 48], [253, 231, 37],
];

const rampStart = 0.12;
const rampEnd = 0.95;

/** Colour of an empty crossbar (no non-zero weight: no conversion at all). */
export const emptyCrossbarRgba: Rgba = [128, 128, 128, 90];

/**
 * Colour of level k. `adcBitsByLevel` is the analysis's table of ADC bits per level
 * (`profile.adcBitsByLevel`, from src/hardware/levels.ts: this file only maps it to colours);
 * the last level is "empty". The ramp runs from the dense level's resolution down to 0 bits.
 */
export function levelRgba(level: number, adcBitsByLevel: readonly number[]): Rgba {
	const denseBits = adcBitsByLevel[0] ?? 0;
	if (level >= adcBitsByLevel.length - 1) {
		return emptyCrossbarRgba;
	}
	const t = rampStart + (rampEnd - rampStart) * (denseBits === 0 ? 1 : (denseBits - adcBitsByLevel[level]) / denseBits);
	const x = t * (viridis.length - 1);
	const i = Math.min(Math.floor(x), viridis.length - 2);
	const f = x - i;
	const a = viridis[i];
	const b = viridis[i + 1];
	return [Math.round(a[0] + (b[0] - a[0]) * f), Math.round(a[1] + (b[1] - a[1]) * f), Math.round(a[2] + (b[2] - a[2]) * f), 255];
}

/**
 * Index into a palette table (`levelPalette`) of `paletteSize` colours for level k: a level past
 * the table takes its last colour, the empty one. The one rule of the panel's heatmaps and the
 * report's heatmap images.
 */
export function levelPaletteIndex(level: number, paletteSize: number): number {
	return level < paletteSize ? level : paletteSize - 1;
}

/** CSS colour of level k. */
export function levelCss(level: number, adcBitsByLevel: readonly number[]): string {
	const [r, g, b, a] = levelRgba(level, adcBitsByLevel);
	return a === 255 ? `rgb(${r} ${g} ${b})` : `rgb(${r} ${g} ${b} / ${(a / 255).toFixed(2)})`;
}

/** A palette table for one crossbar size: index = level. */
export function levelPalette(adcBitsByLevel: readonly number[]): Rgba[] {
	return adcBitsByLevel.map((_, k) => levelRgba(k, adcBitsByLevel));
}

/** What a level means, for legends and hover text. */
export function describeLevel(level: number, adcBitsByLevel: readonly number[]): string {
	if (level >= adcBitsByLevel.length - 1) {
		return `level ${level}: empty, no ADC`;
	}
	const bits = adcBitsByLevel[level];
	return `level ${level}: ${bits} ADC bit${bits === 1 ? '' : 's'}${level === 0 ? ' (dense)' : ''}`;
}
