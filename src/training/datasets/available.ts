/**
 * The datasets this machine has under a name: what the "Run D.U.B. fine-tune" quick pick offers
 * and what `crossbar-lens finetune --data NAME` resolves.
 */
import { existsSync } from 'node:fs';
import type { DatasetSpec } from '../engine';
import { defaultDigitsPath } from './digits';
import { DatasetError } from './errors';
import { defaultFashionMnistDir, findIdxFiles } from './idx';

/** One named dataset, ready for a TrainingJob. */
export interface DatasetChoice {
	/** What `--data` takes: `digits`, `fashion-mnist`. */
	readonly id: string;
	/** For a quick pick: `Fashion-MNIST`. */
	readonly label: string;
	/** Size and where it comes from. */
	readonly description: string;
	readonly spec: DatasetSpec;
}

/** Where each named dataset lives (defaults: the Debian paths); tests point them elsewhere. */
export interface DatasetLocations {
	readonly 'fashion-mnist'?: string;
	readonly digits?: string;
}

interface Named extends DatasetChoice {
	readonly path: string;
	/** How to get it when it is missing. */
	readonly install: string;
}

function namedDatasets(at: DatasetLocations): Named[] {
	const fashion = at['fashion-mnist'] ?? defaultFashionMnistDir;
	const digits = at.digits ?? defaultDigitsPath;
	return [
		{
			id: 'fashion-mnist', label: 'Fashion-MNIST', path: fashion, install: 'apt install dataset-fashion-mnist',
			description: `70,000 28×28 clothing images, 10 classes; held out: the official 10,000 (${fashion})`,
			spec: { kind: 'idx', dir: fashion },
		},
		{
			id: 'digits', label: 'digits', path: digits, install: 'apt install python3-sklearn',
			description: `scikit-learn's 1,797 8×8 digits; held out: a stratified 20 % (${digits})`,
			spec: { kind: 'digits', ...(at.digits ? { path: digits } : {}) },
		},
	];
}

/**
 * The named datasets whose files exist here, Fashion-MNIST first: Debian's dataset-fashion-mnist
 * (a folder with its four IDX files) and scikit-learn's digits.
 */
export function availableDatasets(at: DatasetLocations = {}): DatasetChoice[] {
	return namedDatasets(at).filter(present).map(({ id, label, description, spec }) => ({ id, label, description, spec }));
}

function present(d: Named): boolean {
	if (d.spec.kind !== 'idx') return existsSync(d.path);
	try {
		return findIdxFiles(d.path) !== undefined;
	} catch {
		return false; // some IDX files but not all four: not offered; `--data` on the folder says what is missing
	}
}

/**
 * The spec of a named dataset (`digits`, `fashion-mnist`); undefined for a name this project does
 * not know (a path, then). A known name whose files are missing is a DatasetError saying how to
 * install it.
 */
export function namedDataset(id: string, at: DatasetLocations = {}): DatasetSpec | undefined {
	const d = namedDatasets(at).find((n) => n.id === id);
	if (!d) return undefined;
	if (!existsSync(d.path)) {
		throw new DatasetError(`${id}: not installed (${d.path} does not exist; ${d.install}, or give the path of its files).`);
	}
	return d.spec;
}
