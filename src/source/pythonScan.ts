/**
 * A small, pure scanner for Python training scripts: finds the conv and linear layers a script
 * builds (PyTorch `nn.Conv2d` / `nn.Linear`, Keras `Conv2D` / `Dense`) with the literal values of
 * their shape arguments, and the `torch.save` / `torch.load` calls with a literal path. It
 * tokenizes, so comments and strings never match, and calls may span lines. It does not run or
 * fully parse Python: anything that is not a literal is reported as unknown.
 */

export type ScannedFramework = 'torch' | 'keras';

export interface ScannedLayer {
	/** 0-based line of the call's first token (where the CodeLens goes). */
	readonly line: number;
	readonly column: number;
	readonly framework: ScannedFramework;
	readonly kind: 'conv' | 'linear';
	/** The callee as written, e.g. `nn.Conv2d` or `layers.Dense`. */
	readonly callee: string;
	/** Input channels (conv) or features (linear); undefined when not a literal nor inferable. */
	readonly inChannels?: number;
	/** True when inChannels was inferred from an earlier layer or an input shape (Keras). */
	readonly inChannelsInferred?: boolean;
	readonly outChannels?: number;
	/** [kh, kw] of a conv. */
	readonly kernel?: readonly [number, number];
	/** Convolution groups (1 unless a literal `groups=` says otherwise). */
	readonly groups: number;
}

export interface ScannedCheckpoint {
	readonly line: number;
	readonly column: number;
	readonly kind: 'save' | 'load';
	/** The literal path as written (relative paths are the caller's to resolve). */
	readonly path: string;
}

export interface PythonScan {
	readonly layers: ScannedLayer[];
	readonly checkpoints: ScannedCheckpoint[];
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

type TokenKind = 'name' | 'number' | 'string' | 'op';

interface Token {
	readonly kind: TokenKind;
	readonly text: string;
	readonly line: number;
	readonly column: number;
	/** For strings: the decoded value, undefined for f-strings (not literal). */
	readonly value?: string;
}

const multiCharOps = ['**=', '//=', '>>=', '<<=', '...', '->', ':=', '==', '!=', '<=', '>=', '**', '//', '<<', '>>', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '@='];
const stringPrefix = /(?:[rRbBuUfF]|[rR][bBfF]|[bBfF][rR])?(?:'''|"""|'|")/y;
const identifier = /[\p{L}_][\p{L}\p{N}_]*/uy;
const numberLiteral = /(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?[jJ]?)/y;

/** Splits Python source into tokens, skipping comments and whitespace. Never throws. */
function tokenize(source: string): Token[] {
	const tokens: Token[] = [];
	let line = 0;
	let lineStart = 0;
	let i = 0;
	const n = source.length;
	while (i < n) {
		const c = source[i];
		if (c === '\n') {
			line++;
			lineStart = ++i;
			continue;
		}
		if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\\') {
			i++;
			continue;
		}
		if (c === '#') {
			while (i < n && source[i] !== '\n') i++;
			continue;
		}
		stringPrefix.lastIndex = i;
		const prefixMatch = stringPrefix.exec(source);
		if (prefixMatch) {
			const startLine = line;
			const column = i - lineStart;
			const head = prefixMatch[0];
			const quote = head.endsWith("'''") || head.endsWith('"""') ? head.slice(-3) : head.slice(-1);
			const flags = head.slice(0, head.length - quote.length).toLowerCase();
			let j = i + head.length;
			let raw = '';
			let closed = false;
			while (j < n) {
				const d = source[j];
				if (d === '\\' && j + 1 < n) {
					raw += source.slice(j, j + 2);
					if (source[j + 1] === '\n') {
						line++;
						lineStart = j + 2;
					}
					j += 2;
					continue;
				}
				if (source.startsWith(quote, j)) {
					j += quote.length;
					closed = true;
					break;
				}
				if (d === '\n') {
					if (quote.length === 1) {
						break; // unterminated single-quoted string ends at the line end
					}
					line++;
					lineStart = j + 1;
				}
				raw += d;
				j++;
			}
			tokens.push({
				kind: 'string',
				text: source.slice(i, j),
				line: startLine,
				column,
				value: flags.includes('f') || !closed ? undefined : flags.includes('r') ? raw : unescapePython(raw),
			});
			i = j;
			continue;
		}
		identifier.lastIndex = i;
		const name = identifier.exec(source);
		if (name) {
			tokens.push({ kind: 'name', text: name[0], line, column: i - lineStart });
			i += name[0].length;
			continue;
		}
		if ((c >= '0' && c <= '9') || (c === '.' && /\d/.test(source[i + 1] ?? ''))) {
			numberLiteral.lastIndex = i;
			const num = numberLiteral.exec(source);
			const text = num?.[0] || c;
			tokens.push({ kind: 'number', text, line, column: i - lineStart });
			i += text.length;
			continue;
		}
		const op = multiCharOps.find((o) => source.startsWith(o, i)) ?? c;
		tokens.push({ kind: 'op', text: op, line, column: i - lineStart });
		i += op.length;
	}
	return tokens;
}

function unescapePython(raw: string): string {
	return raw.replace(/\\(\n|\\|'|"|n|t|r|0)/g, (_, ch: string) => ({ '\n': '', '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', '0': '\0' })[ch] ?? ch);
}

// ---------------------------------------------------------------------------------------------
// Literal evaluation of call arguments

type Literal = number | string | boolean | null | Literal[];

/** Sentinel for "not a literal". */
const unknown = Symbol('unknown');
type Evaluated = Literal | typeof unknown;

function evaluate(tokens: readonly Token[]): Evaluated {
	if (tokens.length === 0) {
		return unknown;
	}
	let pos = 0;
	const parse = (): Evaluated => {
		const t = tokens[pos];
		if (!t) {
			return unknown;
		}
		if (t.kind === 'number') {
			pos++;
			return parseIntLiteral(t.text);
		}
		if (t.kind === 'op' && t.text === '-' && tokens[pos + 1]?.kind === 'number') {
			pos++;
			const v = parse();
			return typeof v === 'number' ? -v : unknown;
		}
		if (t.kind === 'string') {
			let text = '';
			while (tokens[pos]?.kind === 'string') {
				const value = tokens[pos].value;
				if (value === undefined) {
					return unknown;
				}
				text += value;
				pos++;
			}
			return text;
		}
		if (t.kind === 'name' && (t.text === 'True' || t.text === 'False' || t.text === 'None')) {
			pos++;
			return t.text === 'None' ? null : t.text === 'True';
		}
		if (t.kind === 'op' && (t.text === '(' || t.text === '[')) {
			const close = t.text === '(' ? ')' : ']';
			pos++;
			const items: Literal[] = [];
			let sawComma = false;
			while (pos < tokens.length && tokens[pos].text !== close) {
				const item = parse();
				if (item === unknown) {
					return unknown;
				}
				items.push(item);
				if (tokens[pos]?.text === ',') {
					sawComma = true;
					pos++;
				} else if (tokens[pos]?.text !== close) {
					return unknown;
				}
			}
			if (tokens[pos]?.text !== close) {
				return unknown;
			}
			pos++;
			// `(3)` is the number 3; `(3,)` and `[3]` are sequences.
			return close === ')' && items.length === 1 && !sawComma ? items[0] : items;
		}
		return unknown;
	};
	const value = parse();
	return pos === tokens.length ? value : unknown;
}

function parseIntLiteral(text: string): Evaluated {
	const clean = text.replace(/_/g, '');
	if (/^\d+$/.test(clean)) {
		return Number(clean);
	}
	if (/^0[xob]/i.test(clean)) {
		return Number(clean);
	}
	return unknown; // floats and complex numbers are not channel counts
}

interface CallArgs {
	readonly positional: Evaluated[];
	readonly keywords: Map<string, Evaluated>;
	/** `*args` or `**kwargs` present: positions after it are unknowable. */
	readonly spread: boolean;
}

interface Call {
	/** Index of the first token of the callee. */
	readonly start: number;
	readonly callee: string[];
	/** Index of '(' and of the matching ')' (or tokens.length when unclosed). */
	readonly open: number;
	readonly close: number;
}

function splitArgs(tokens: readonly Token[], open: number, close: number): CallArgs {
	const positional: Evaluated[] = [];
	const keywords = new Map<string, Evaluated>();
	let spread = false;
	let depth = 0;
	let argStart = open + 1;
	const flush = (end: number): void => {
		const slice = tokens.slice(argStart, end);
		if (slice.length === 0) {
			return;
		}
		if (slice[0].kind === 'op' && (slice[0].text === '*' || slice[0].text === '**')) {
			spread = true;
			return;
		}
		if (slice.length >= 2 && slice[0].kind === 'name' && slice[1].kind === 'op' && slice[1].text === '=') {
			keywords.set(slice[0].text, evaluate(slice.slice(2)));
			return;
		}
		positional.push(spread ? unknown : evaluate(slice));
	};
	for (let i = open + 1; i < close; i++) {
		const t = tokens[i];
		if (t.kind !== 'op') continue;
		if (t.text === '(' || t.text === '[' || t.text === '{') depth++;
		else if (t.text === ')' || t.text === ']' || t.text === '}') depth--;
		else if (t.text === ',' && depth === 0) {
			flush(i);
			argStart = i + 1;
		}
	}
	flush(close);
	return { positional, keywords, spread };
}

function findCalls(tokens: readonly Token[]): Call[] {
	const calls: Call[] = [];
	for (let i = 0; i < tokens.length; i++) {
		const t = tokens[i];
		if (t.kind !== 'name') continue;
		const prev = tokens[i - 1];
		if (prev && prev.kind === 'op' && prev.text === '.') continue; // not the start of a dotted name
		if (prev && prev.kind === 'name' && (prev.text === 'def' || prev.text === 'class')) continue;
		const callee = [t.text];
		let j = i + 1;
		while (tokens[j]?.text === '.' && tokens[j + 1]?.kind === 'name') {
			callee.push(tokens[j + 1].text);
			j += 2;
		}
		if (tokens[j]?.kind !== 'op' || tokens[j].text !== '(') continue;
		let depth = 0;
		let k = j;
		for (; k < tokens.length; k++) {
			const x = tokens[k];
			if (x.kind !== 'op') continue;
			if (x.text === '(' || x.text === '[' || x.text === '{') depth++;
			else if (x.text === ')' || x.text === ']' || x.text === '}') {
				depth--;
				if (depth === 0) break;
			}
		}
		calls.push({ start: i, callee, open: j, close: Math.min(k, tokens.length) });
	}
	return calls;
}

// ---------------------------------------------------------------------------------------------
// Imports: which local names stand for torch.nn, keras layers, torch

/** Local name → the module or object it is bound to (`nn` → `torch.nn`, `Conv2D` → `keras.layers.Conv2D`). */
function collectImports(tokens: readonly Token[]): { aliases: Map<string, string>; starModules: string[] } {
	const aliases = new Map<string, string>();
	const starModules: string[] = [];
	// `a.b.c` (relative `from .x` too), on one logical line: name (. name)*.
	const dotted = (at: number): [string, number] => {
		let i = at;
		let text = '';
		while (tokens[i]?.text === '.' || tokens[i]?.text === '...') {
			text += tokens[i].text;
			i++;
		}
		if (tokens[i]?.kind !== 'name') {
			return [text, i];
		}
		text += tokens[i].text;
		i++;
		while (tokens[i]?.text === '.' && tokens[i + 1]?.kind === 'name' && tokens[i + 1].line === tokens[i].line) {
			text += `.${tokens[i + 1].text}`;
			i += 2;
		}
		return [text, i];
	};
	for (let i = 0; i < tokens.length; i++) {
		const t = tokens[i];
		if (t.kind !== 'name' || (t.text !== 'import' && t.text !== 'from')) continue;
		const atLineStart = i === 0 || tokens[i - 1].line !== t.line || tokens[i - 1].text === ';';
		if (!atLineStart) continue;
		if (t.text === 'import') {
			// import a.b.c [as x], d
			let j = i + 1;
			while (j < tokens.length) {
				const [module, next] = dotted(j);
				j = next;
				if (tokens[j]?.text === 'as' && tokens[j + 1]?.kind === 'name') {
					aliases.set(tokens[j + 1].text, module);
					j += 2;
				} else if (module) {
					aliases.set(module.split('.')[0], module.split('.')[0]);
				}
				if (tokens[j]?.text !== ',') break;
				j++;
			}
		} else {
			// from a.b import c [as d], (e, f) | *
			const [module, next] = dotted(i + 1);
			let j = next;
			if (tokens[j]?.text !== 'import') continue;
			j++;
			const paren = tokens[j]?.text === '(';
			if (paren) j++;
			while (j < tokens.length) {
				const name = tokens[j];
				if (name?.text === '*') {
					starModules.push(module);
					break;
				}
				if (name?.kind !== 'name') break;
				if (tokens[j + 1]?.text === 'as' && tokens[j + 2]?.kind === 'name') {
					aliases.set(tokens[j + 2].text, `${module}.${name.text}`);
					j += 3;
				} else {
					aliases.set(name.text, `${module}.${name.text}`);
					j += 1;
				}
				if (tokens[j]?.text !== ',') break;
				j++;
				if (!paren && tokens[j]?.line !== name.line) break;
			}
		}
	}
	return { aliases, starModules };
}

function resolveCallee(callee: readonly string[], aliases: ReadonlyMap<string, string>, starModules: readonly string[]): string {
	const [head, ...rest] = callee;
	const bound = aliases.get(head);
	if (bound !== undefined) {
		return [bound, ...rest].join('.');
	}
	if (rest.length === 0) {
		const star = starModules.find((m) => isTorchNn(m) || isKerasLayers(m));
		if (star) {
			return `${star}.${head}`;
		}
	}
	return callee.join('.');
}

const isTorchNn = (module: string): boolean => module === 'torch.nn' || module === 'torch.nn.modules' || module.startsWith('torch.nn.modules.');
const isKerasLayers = (module: string): boolean => /(^|\.)keras\.layers$/.test(module) || module === 'keras' || /(^|\.)keras$/.test(module);

type LayerClass = { framework: ScannedFramework; kind: 'conv' | 'linear' } | { framework: 'keras'; kind: 'input' | 'keep' | 'flatten' | 'pool' | 'other' };

const kerasKeep = new Set(['MaxPooling2D', 'MaxPool2D', 'AveragePooling2D', 'AvgPool2D', 'BatchNormalization', 'Dropout', 'SpatialDropout2D', 'Activation', 'ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'Softmax', 'ZeroPadding2D', 'UpSampling2D', 'LayerNormalization', 'GaussianNoise', 'Rescaling', 'Normalization']);
const kerasPool = new Set(['GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'GlobalAvgPool2D', 'GlobalMaxPool2D']);

function classify(resolved: string, written: readonly string[]): LayerClass | undefined {
	const parts = resolved.split('.');
	const name = parts[parts.length - 1];
	const module = parts.slice(0, -1).join('.');
	// `nn.Conv2d` without a visible import (a snippet) is still PyTorch; `layers.Dense` still Keras.
	const torchModule = isTorchNn(module) || (written.length === 2 && written[0] === 'nn');
	const kerasModule = isKerasLayers(module) || (written.length === 2 && written[0] === 'layers');
	if (torchModule) {
		if (name === 'Conv2d') return { framework: 'torch', kind: 'conv' };
		if (name === 'Linear') return { framework: 'torch', kind: 'linear' };
		return undefined;
	}
	if (kerasModule || /(^|\.)keras\.layers\.[^.]+$/.test(resolved)) {
		if (name === 'Conv2D' || name === 'Convolution2D') return { framework: 'keras', kind: 'conv' };
		if (name === 'Dense') return { framework: 'keras', kind: 'linear' };
		if (name === 'Input' || name === 'InputLayer') return { framework: 'keras', kind: 'input' };
		if (name === 'Flatten' || name === 'Reshape') return { framework: 'keras', kind: 'flatten' };
		if (kerasPool.has(name)) return { framework: 'keras', kind: 'pool' };
		if (kerasKeep.has(name)) return { framework: 'keras', kind: 'keep' };
		return { framework: 'keras', kind: 'other' };
	}
	if (/(^|\.)keras$/.test(module) && name === 'Input') {
		return { framework: 'keras', kind: 'input' };
	}
	return undefined;
}

// ---------------------------------------------------------------------------------------------
// The scan

const asPositiveInt = (value: Evaluated | undefined): number | undefined => (typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined);

function asKernel(value: Evaluated | undefined): [number, number] | undefined {
	const single = asPositiveInt(value);
	if (single !== undefined) {
		return [single, single];
	}
	if (Array.isArray(value) && value.length === 2) {
		const kh = asPositiveInt(value[0]);
		const kw = asPositiveInt(value[1]);
		return kh !== undefined && kw !== undefined ? [kh, kw] : undefined;
	}
	return undefined;
}

/** Channels (last dim, or the first with channels_first) of a Keras shape literal like (28, 28, 1). */
function channelsOfShape(value: Evaluated | undefined, channelsFirst: boolean): number | undefined {
	if (!Array.isArray(value) || value.length === 0) {
		return undefined;
	}
	const dims = value.filter((d) => d !== null);
	return asPositiveInt(channelsFirst && value.length >= 3 ? value[value.length - 3] : dims[dims.length - 1]);
}

const arg = (args: CallArgs, index: number, keyword: string): Evaluated | undefined => (args.keywords.has(keyword) ? args.keywords.get(keyword) : args.positional[index]);

/** Scans a Python source for conv/linear layer constructors and checkpoint save/load calls. */
export function scanPythonSource(source: string): PythonScan {
	const tokens = tokenize(source);
	const { aliases, starModules } = collectImports(tokens);
	const layers: ScannedLayer[] = [];
	const checkpoints: ScannedCheckpoint[] = [];
	// What flows into the next Keras layer, for the implicit input channels of Conv2D / Dense.
	let kerasFlow: { shape: 'spatial' | 'flat'; channels?: number } | undefined;
	for (const call of findCalls(tokens)) {
		const first = tokens[call.start];
		const resolved = resolveCallee(call.callee, aliases, starModules);
		if (resolved === 'torch.save' || resolved === 'torch.load') {
			const args = splitArgs(tokens, call.open, call.close);
			const path = resolved === 'torch.save' ? arg(args, 1, 'f') : arg(args, 0, 'f');
			if (typeof path === 'string' && path.length > 0) {
				checkpoints.push({ line: first.line, column: first.column, kind: resolved === 'torch.save' ? 'save' : 'load', path });
			}
			continue;
		}
		const cls = classify(resolved, call.callee);
		if (!cls) {
			continue;
		}
		const args = splitArgs(tokens, call.open, call.close);
		const base = { line: first.line, column: first.column, callee: call.callee.join('.') };
		if (cls.framework === 'torch') {
			const groups = asPositiveInt(args.keywords.get('groups')) ?? (args.keywords.has('groups') ? undefined : asPositiveInt(args.positional[6]) ?? 1);
			if (cls.kind === 'conv') {
				layers.push(definedOnly({
					...base, framework: 'torch', kind: 'conv',
					inChannels: asPositiveInt(arg(args, 0, 'in_channels')),
					outChannels: asPositiveInt(arg(args, 1, 'out_channels')),
					kernel: asKernel(arg(args, 2, 'kernel_size')),
					groups: groups ?? 1,
				}));
			} else {
				layers.push(definedOnly({
					...base, framework: 'torch', kind: 'linear',
					inChannels: asPositiveInt(arg(args, 0, 'in_features')),
					outChannels: asPositiveInt(arg(args, 1, 'out_features')),
					groups: 1,
				}));
			}
			continue;
		}
		const channelsFirst = args.keywords.get('data_format') === 'channels_first';
		const declared = channelsOfShape(args.keywords.get('input_shape') ?? args.keywords.get('batch_input_shape'), channelsFirst);
		switch (cls.kind) {
			case 'input': {
				const channels = channelsOfShape(arg(args, 0, 'shape') ?? args.keywords.get('input_shape'), channelsFirst);
				const shape = arg(args, 0, 'shape') ?? args.keywords.get('input_shape');
				kerasFlow = { shape: Array.isArray(shape) && shape.length === 1 ? 'flat' : 'spatial', channels };
				break;
			}
			case 'conv': {
				const filters = asPositiveInt(arg(args, 0, 'filters'));
				const inferred = declared === undefined && kerasFlow?.shape === 'spatial' ? kerasFlow.channels : undefined;
				const inChannels = declared ?? inferred;
				layers.push(definedOnly({
					...base, framework: 'keras', kind: 'conv',
					inChannels, inChannelsInferred: inChannels !== undefined && declared === undefined ? true : undefined,
					outChannels: filters,
					kernel: asKernel(arg(args, 1, 'kernel_size')),
					groups: asPositiveInt(args.keywords.get('groups')) ?? 1,
				}));
				kerasFlow = { shape: 'spatial', channels: filters };
				break;
			}
			case 'linear': {
				const units = asPositiveInt(arg(args, 0, 'units'));
				const inputDim = asPositiveInt(args.keywords.get('input_dim'));
				const explicit = inputDim ?? declared;
				const inferred = explicit === undefined && kerasFlow?.shape === 'flat' ? kerasFlow.channels : undefined;
				const inChannels = explicit ?? inferred;
				layers.push(definedOnly({
					...base, framework: 'keras', kind: 'linear',
					inChannels, inChannelsInferred: inChannels !== undefined && explicit === undefined ? true : undefined,
					outChannels: units,
					groups: 1,
				}));
				kerasFlow = { shape: 'flat', channels: units };
				break;
			}
			case 'flatten':
				kerasFlow = { shape: 'flat', channels: undefined };
				break;
			case 'pool':
				kerasFlow = { shape: 'flat', channels: kerasFlow?.shape === 'spatial' ? kerasFlow.channels : undefined };
				break;
			case 'keep':
				if (declared !== undefined) kerasFlow = { shape: 'spatial', channels: declared };
				break;
			default:
				kerasFlow = undefined;
		}
	}
	layers.sort((a, b) => a.line - b.line || a.column - b.column);
	return { layers, checkpoints };
}

/** Drops undefined optional fields (the objects stay JSON-clean and deepEqual-friendly). */
function definedOnly<T extends object>(value: T): T {
	return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The crossbar matrix of a scanned layer, [outChannels, fanIn] as the analysis maps it
 * (fanIn = in/groups · kh · kw for a conv); undefined when a needed argument is unknown.
 */
export function scannedLayerMatrix(layer: ScannedLayer): [number, number] | undefined {
	if (layer.outChannels === undefined || layer.inChannels === undefined) {
		return undefined;
	}
	if (layer.kind === 'linear') {
		return [layer.outChannels, layer.inChannels];
	}
	if (!layer.kernel || layer.inChannels % layer.groups !== 0) {
		return undefined;
	}
	return [layer.outChannels, (layer.inChannels / layer.groups) * layer.kernel[0] * layer.kernel[1]];
}
