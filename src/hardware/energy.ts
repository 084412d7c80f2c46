import type { AdcLaw, AdcLawDto } from '../shared/analysis';
import { adcBitsForLevel, log2Int } from './levels';

interface LawDefinition extends AdcLawDto {
	/** Relative energy of one conversion at `bits` of resolution. */
	energy(bits: number): number;
}

/**
 * ADC energy laws. A 0-bit crossbar (least-sparse column with at most one non-zero) needs no
 * conversion and costs 0 under every law, as in the paper's accounting (docs/method.md §5.2).
 */
const laws: Record<AdcLaw, LawDefinition> = {
	paper: {
		name: 'paper',
		formula: 'E ∝ bits, bits = log2 T − k (0 for ≤ 1 non-zero)',
		source: 'docs/method.md §5.2: reconstructed from the D.U.B. logs; reproduces 7.13× (VGG11/CIFAR-10, T=32) and 1.27× (ResNet18/ImageNet, T=64), arXiv 2403.13082',
		energy: (bits) => bits,
	},
	walden: {
		name: 'walden',
		formula: 'E ∝ 2^bits (×2 per bit; 0 bits → 0)',
		source: 'Walden figure of merit, energy per conversion = FOM·2^ENOB (Walden, IEEE JSAC 1999; Murmann, ADC Performance Survey)',
		energy: (bits) => (bits <= 0 ? 0 : 2 ** bits),
	},
	thermal: {
		name: 'thermal',
		formula: 'E ∝ 4^bits (×4 per bit; 0 bits → 0)',
		source: 'thermal-noise-limited ADCs, energy per conversion ∝ 4^ENOB (Murmann, ADC Performance Survey; Schreier FOM regime)',
		energy: (bits) => (bits <= 0 ? 0 : 4 ** bits),
	},
};

/** The law's name, formula and source, as printed with every result. */
export function describeAdcLaw(law: AdcLaw): AdcLawDto {
	const { name, formula, source } = laws[law];
	return { name, formula, source };
}

/** Relative energy of one conversion at `bits` under `law`. */
export function adcEnergyOf(law: AdcLaw, bits: number): number {
	return laws[law].energy(bits);
}

/** Σ dense / Σ current, or null when the current energy is 0 (every crossbar empty). */
export function improvement(dense: number, current: number): number | null {
	if (current > 0) {
		return dense / current;
	}
	return dense > 0 ? null : 1;
}

/** ADC bits and energy of a set of crossbars, from how many sit at each level. */
export interface HistogramCost {
	readonly adcBitsDense: number;
	readonly adcBits: number;
	readonly adcEnergyDense: number;
	readonly adcEnergy: number;
}

/**
 * The cost of crossbars given by their level histogram (docs/method.md §5.2, TV5): a crossbar's
 * resolution depends only on its level, so the histogram is all the accounting needs.
 */
export function costOfHistogram(histogram: readonly number[], crossbarSize: number, law: AdcLaw): HistogramCost {
	const denseBits = log2Int(crossbarSize);
	let crossbars = 0, adcBits = 0, adcEnergy = 0;
	histogram.forEach((count, level) => {
		const bits = adcBitsForLevel(level, crossbarSize);
		crossbars += count;
		adcBits += count * bits;
		adcEnergy += count * adcEnergyOf(law, bits);
	});
	return { adcBitsDense: crossbars * denseBits, adcBits, adcEnergyDense: crossbars * adcEnergyOf(law, denseBits), adcEnergy };
}
