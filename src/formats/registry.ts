import { ModelFormatError } from '../core/errors';
import type { FormatId, ModelGraph } from '../core/model';
import { openFileSource } from './byteSource';
import type { ByteSource } from './byteSource';
import type { FormatReader, OpenOptions } from './types';
import { pytorchReader } from './pytorch/reader';
import { safetensorsReader } from './safetensors';
import { onnxReader } from './onnx/reader';
import { tfjsReader } from './tfjs';
import { numpyReader } from './numpy';
import { kerasReader } from './keras';

/** The fine-tune engine that can start from a model file of a format (src/training). */
export type TrainingEngineId = 'tfjs' | 'pytorch';

/** One format: its reader, the file names it usually has, and the engine that fine-tunes it. */
export interface ModelFileType {
	readonly reader: FormatReader;
	/** Lower-case name endings: extensions ('.pt') or whole names ('model.json'). */
	readonly suffixes: readonly string[];
	readonly trainWith?: TrainingEngineId;
}

/**
 * Every model file the tool reads: the ONE list. Menus (package.json's `when` clauses, checked
 * by test/unit/extension/packageJson.test.ts), pickers, watchers and the engines' checks derive
 * from it. Order: readers whose suffix matches a file are tried first, in this order.
 */
export const modelFileTypes: readonly ModelFileType[] = [
	{ reader: pytorchReader, suffixes: ['.pt', '.pth', '.bin', '.ckpt', '.tar'], trainWith: 'pytorch' },
	{ reader: safetensorsReader, suffixes: ['.safetensors'] },
	{ reader: onnxReader, suffixes: ['.onnx'], trainWith: 'tfjs' },
	{ reader: tfjsReader, suffixes: ['model.json'], trainWith: 'tfjs' },
	{ reader: numpyReader, suffixes: ['.npz'] },
	{ reader: kerasReader, suffixes: ['.keras', '.h5', '.hdf5'], trainWith: 'tfjs' },
];

/** Name endings of every model file the analysis reads (for menus, pickers and watchers). */
export const modelFileExtensions: readonly string[] = modelFileTypes.flatMap((t) => t.suffixes);

/** Name endings of the model files an engine fine-tunes. */
export function trainableSuffixes(engine?: TrainingEngineId): string[] {
	return modelFileTypes.filter((t) => (engine === undefined ? t.trainWith !== undefined : t.trainWith === engine)).flatMap((t) => t.suffixes);
}

/** Whether a file name ends with one of `suffixes` (case-insensitive). */
export function hasSuffix(name: string, suffixes: readonly string[]): boolean {
	const lower = name.toLowerCase();
	return suffixes.some((suffix) => lower.endsWith(suffix));
}

/** The suffixes as a reader would say them: ".pt .pth … model.json". */
export function describeSuffixes(suffixes: readonly string[]): string {
	return suffixes.join(' ');
}

/**
 * The `when` clause of a menu item shown for these suffixes (VS Code context keys): extensions
 * through `resourceExtname`, whole names through `resourceFilename`.
 */
function menuWhenClause(suffixes: readonly string[]): string {
	const extensions = suffixes.filter((s) => s.startsWith('.')).map((s) => s.slice(1));
	const names = suffixes.filter((s) => !s.startsWith('.'));
	return [`resourceExtname =~ /^\\.(${extensions.join('|')})$/i`, ...names.map((n) => `resourceFilename == ${n}`)].join(' || ');
}

/**
 * The `when` clause package.json must give each model-file menu item, by command id: analysis,
 * pruning and reports for every model file; fine-tuning (which runs code) for the files an engine
 * trains, in trusted workspaces only. scripts/sync-menus.ts writes them into package.json.
 */
export function menuWhenClauses(): Record<string, string> {
	const all = menuWhenClause(modelFileExtensions);
	return {
		'crossbarLens.analyzeModel': all,
		'crossbarLens.pruneModel': all,
		'crossbarLens.exportReport': all,
		'crossbarLens.runFineTune': `isWorkspaceTrusted && (${menuWhenClause(trainableSuffixes())})`,
	};
}

const headBytes = 4096;

const formatNames: Record<FormatId, string> = {
	pytorch: 'PyTorch checkpoint (torch.save zip)',
	safetensors: 'safetensors',
	onnx: 'ONNX',
	tfjs: 'TF.js layers model (model.json)',
	numpy: 'NumPy .npz',
	keras: 'Keras (.keras / .h5)',
};

/**
 * Opens a model from a ByteSource: readers whose extension matches go first, then every other
 * reader whose sniff accepts the head. The failure of the most likely reader is the one reported.
 */
export async function openModelSource(source: ByteSource, options: OpenOptions = {}): Promise<ModelGraph> {
	if (source.length === 0) {
		await source.close();
		throw new ModelFormatError('empty', `${source.name}: the file is empty.`);
	}
	let head: Uint8Array;
	try {
		head = await source.read(0, Math.min(headBytes, source.length));
	} catch (ex) {
		await source.close();
		throw ex;
	}
	const matches = (type: ModelFileType): boolean => hasSuffix(source.name, type.suffixes);
	const ordered = [...modelFileTypes].sort((a, b) => Number(matches(b)) - Number(matches(a)));
	let firstFailure: unknown;
	for (const { reader } of ordered) {
		if (!safeSniff(reader, source.name, head)) {
			continue;
		}
		try {
			return await reader.open(source, options);
		} catch (ex) {
			firstFailure ??= ex;
		}
	}
	await source.close();
	if (firstFailure !== undefined) {
		throw firstFailure;
	}
	const expected = ordered.filter(matches).map(({ reader }) => formatNames[reader.id]);
	throw new ModelFormatError(expected.length > 0 ? 'bad-magic' : 'unknown-format', expected.length > 0
		? `${source.name}: does not look like a ${expected.join(' or ')} file (first bytes ${hex(head.subarray(0, 8))}).`
		: `${source.name}: not a model format Crossbar Lens reads (${describeSuffixes(modelFileExtensions)}).`);
}

/** Opens a model file by path. */
export async function openModel(path: string, options: OpenOptions = {}, displayName: string = path): Promise<ModelGraph> {
	return openModelSource(await openFileSource(path, displayName), options);
}

export function formatIds(): FormatId[] {
	return modelFileTypes.map((t) => t.reader.id);
}

function safeSniff(reader: FormatReader, name: string, head: Uint8Array): boolean {
	try {
		return reader.sniff(name, head);
	} catch {
		return false;
	}
}

function hex(bytes: Uint8Array): string {
	return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
