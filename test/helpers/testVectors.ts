/**
 * The test vectors TV1–TV18 of docs/method.md §11, read from docs/test-vectors.json (the one
 * copy: the Python tests read the same file). Types cover what the TypeScript tests use.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Matrix = number[][];

/** Float32 tiles pruned at θ: the inputs, the θ and the expected output of one prune vector. */
interface PruneVector {
	readonly T: number;
	readonly theta: number;
	readonly input: Matrix;
}

export interface TestVectors {
	readonly hoyerEpsilon: number;
	readonly vectors: {
		readonly TV1: { readonly cases: readonly { readonly T: number; readonly B: number; readonly edges: number[] }[] };
		readonly TV2: { readonly T: number; readonly cases: readonly { readonly zeros: number; readonly k: number; readonly decision?: 'forced' | 'loosened' }[] };
		readonly TV3: { readonly cases: readonly { readonly T: number; readonly bits: number[] }[] };
		readonly TV4: {
			readonly T: number;
			readonly cases: readonly {
				readonly lscNonZeros: number;
				readonly s: number;
				readonly k: number;
				readonly bits: number;
				readonly relativeEnergy?: { readonly paper: number; readonly walden: number };
				readonly relativeEnergyTolerance?: { readonly paper: number; readonly walden: number };
				readonly prunedTo?: number;
			}[];
		};
		readonly TV5: { readonly cases: readonly { readonly T: number; readonly histogram: number[]; readonly dense: number; readonly current: number; readonly improvement: number; readonly decimals: number }[] };
		readonly TV6: {
			readonly epsilon: number;
			readonly tolerance: number;
			readonly cases: readonly { readonly v: number[]; readonly h: number; readonly exact?: boolean }[];
			readonly atEpsilonZero: { readonly v: number[]; readonly h: number; readonly tolerance: number };
		};
		readonly TV7: { readonly epsilon: number; readonly cases: readonly { readonly v: number[]; readonly gradient: number[]; readonly tolerance: number }[] };
		readonly TV8: {
			readonly T: number;
			readonly q: number;
			readonly lambda: number;
			readonly input: Matrix;
			readonly expected: { readonly h: number[]; readonly variance: number; readonly dVdH: number[]; readonly dVdHGated: number[]; readonly gradient: Matrix; readonly ungatedGradientRow0: number[] };
			readonly tolerance: { readonly h: number; readonly variance: number; readonly dVdH: number; readonly gradient: number; readonly ungatedGradientRow0: number };
		};
		readonly TV9: {
			readonly T: number;
			readonly q: number;
			readonly lambda: number;
			readonly input: Matrix;
			readonly expected: { readonly h: number[]; readonly variance: number; readonly dVdH: number[]; readonly gradientRow0: number[]; readonly gradientRow1: number[] };
			readonly tolerance: { readonly h: number; readonly variance: number; readonly dVdH: number; readonly gradientRow0: number; readonly gradientRow1: number };
		};
		readonly TV10: {
			readonly T: number;
			readonly q: number;
			readonly lambda: number;
			readonly weightShape: number[];
			readonly weight: unknown[];
			readonly expected: { readonly matrix: Matrix; readonly tiles: Matrix[]; readonly tileHoyers: Matrix; readonly tileVariances: number[]; readonly lossOverLambda: number; readonly gradient: unknown[] };
			readonly tolerance: { readonly tileHoyers: number; readonly tileVariances: number; readonly lossOverLambda: number; readonly gradient: number };
		};
		readonly TV11: PruneVector & { readonly expected: { readonly k: number; readonly decision: 'forced'; readonly output: Matrix; readonly kAfter: number; readonly bitsAfter: number } };
		readonly TV12: PruneVector & { readonly expected: { readonly k: number; readonly decision: 'loosened'; readonly output: Matrix; readonly kAfter: number; readonly bitsAfter: number } };
		readonly TV13: PruneVector & { readonly expected: { readonly k: number; readonly fixedOutput: Matrix; readonly tolOutput: Matrix } };
		readonly TV14: PruneVector & { readonly expected: { readonly k: number; readonly output: Matrix; readonly bitsAfter: number } };
		readonly TV15: PruneVector & { readonly expected: { readonly k: number; readonly decision: 'forced'; readonly output: Matrix; readonly kAfter: number; readonly bitsAfter: number } };
		readonly TV16: {
			readonly columns: readonly { readonly n: number; readonly qStar: number; readonly pruned: number; readonly position?: number }[];
			readonly layer: { readonly absValues: number[]; readonly ratio: number; readonly threshold: number; readonly pruned: number; readonly tolerance: number };
		};
		readonly TV17: Record<'vgg11Cifar' | 'resnet18', {
			readonly names?: string[];
			readonly shapes: number[][];
			readonly weights: number;
			readonly crossbars: Record<string, number>;
			readonly perLayerAt64: number[];
		}>;
		readonly TV18: {
			readonly T: number;
			readonly q: number;
			readonly input: Matrix;
			readonly expected: { readonly xbTile: number[]; readonly xbColumn: number[]; readonly xbColumnSum: number; readonly xbRow: number[]; readonly xbRowSum: number; readonly h: number[]; readonly variance: number };
			readonly tolerance: number;
		};
	};
}

/** docs/test-vectors.json, the authoritative copy of the §11 vectors. */
export const testVectorsPath = join(__dirname, '..', '..', 'docs', 'test-vectors.json');

/** The vectors, parsed once per test process. */
export const { vectors, hoyerEpsilon } = JSON.parse(readFileSync(testVectorsPath, 'utf8')) as TestVectors;

/** A nested array (a matrix, a 4-D weight) in row-major order. */
export function flat(nested: unknown[]): number[] {
	return (nested as unknown[]).flat(Infinity as 1) as number[];
}
