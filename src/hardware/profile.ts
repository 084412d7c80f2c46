import { UsageError } from '../core/errors';
import { adcLaws } from '../shared/analysis';
import type { HardwareProfile } from '../shared/analysis';

/**
 * The default profile reproduces the paper's accounting (docs/method.md §5): 64×64 crossbars,
 * one column per weight, exact zeros, linear-in-bits ADC energy, conv layers only.
 */
export const defaultProfile: HardwareProfile = {
	crossbarSize: 64,
	slices: 1,
	tol: 0,
	adcLaw: 'paper',
	includeLinear: false,
	// ISAAC (Shafiee et al., ISCA 2016, Table 6): an 8-bit 1.28 GS/s ADC at 16 mW ≈ 12.5 pJ per conversion.
	adcEnergyPjAt8Bits: 12.5,
	inputBits: 8,
};

/** Fills defaults and checks every field; bad values are UsageErrors that say what is allowed. */
export function resolveProfile(partial: Partial<HardwareProfile> = {}): HardwareProfile {
	const profile: HardwareProfile = { ...defaultProfile, ...stripUndefined(partial) };
	const { crossbarSize, slices, tol, adcLaw, inputSize, adcEnergyPjAt8Bits, inputBits } = profile;
	if (!Number.isInteger(crossbarSize) || crossbarSize < 2 || crossbarSize > 4096 || (crossbarSize & (crossbarSize - 1)) !== 0) {
		throw new UsageError(`crossbar size (tile) must be a power of two from 2 to 4096 (got ${crossbarSize}).`);
	}
	// The reference asserts q = 1 or even (REPO:c1…class.py); the crossbar must hold at least one channel.
	if (!Number.isInteger(slices) || slices < 1 || (slices > 1 && slices % 2 !== 0) || crossbarSize % slices !== 0 || slices > crossbarSize) {
		throw new UsageError(`slices must be 1 or an even divisor of the crossbar size ${crossbarSize} (got ${slices}).`);
	}
	if (!Number.isFinite(tol) || tol < 0) {
		throw new UsageError(`tol must be a number ≥ 0 (got ${tol}).`);
	}
	if (!adcLaws.includes(adcLaw)) {
		throw new UsageError(`ADC law must be one of ${adcLaws.join(', ')} (got ${String(adcLaw)}).`);
	}
	if (inputSize !== undefined && (inputSize.length !== 3 || inputSize.some((d) => !Number.isInteger(d) || d < 1 || d > 1e5))) {
		throw new UsageError(`input size must be C×H×W with three positive integers, e.g. 3x32x32 (got ${inputSize.join('x')}).`);
	}
	if (!Number.isFinite(adcEnergyPjAt8Bits) || adcEnergyPjAt8Bits <= 0) {
		throw new UsageError(`ADC energy anchor must be a positive number of pJ (got ${adcEnergyPjAt8Bits}).`);
	}
	if (!Number.isInteger(inputBits) || inputBits < 1 || inputBits > 32) {
		throw new UsageError(`input bits must be an integer from 1 to 32 (got ${inputBits}).`);
	}
	return profile;
}

/** Parses `3x32x32` (also `3,32,32` or `3×32×32`). */
export function parseInputSize(text: string): number[] {
	const parts = text.split(/[x×,]/i).map((p) => p.trim());
	const dims = parts.map(Number);
	if (dims.length !== 3 || dims.some((d, i) => parts[i] === '' || !Number.isInteger(d) || d < 1)) {
		throw new UsageError(`input size must look like 3x32x32 (C×H×W), got '${text}'.`);
	}
	return dims;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
	return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
