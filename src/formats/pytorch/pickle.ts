import { ModelFormatError } from '../../core/errors';

/**
 * A restricted, data-only unpickler written from scratch (pickle protocols 0–5 as torch and
 * numpy emit them). Nothing in a pickle can run code here: GLOBAL/STACK_GLOBAL resolve only
 * through the caller's allow-list to JS factories that build plain data, and REDUCE, NEWOBJ and
 * BUILD apply only those factories. Every opcode consumes at least one byte and every container
 * operation only moves references, so the work is linear in the pickle's size.
 */

/** A Python dict (or OrderedDict, argparse.Namespace, …): insertion-ordered, any keys. */
export class PyDict {
	readonly map = new Map<unknown, unknown>();
	/** Instance attributes set by BUILD (OrderedDict's `_metadata`), kept apart from the items. */
	attributes: unknown;

	constructor(readonly className = 'dict') {}
}

/**
 * An instance of a class the allow-list does not know (a pickled nn.Module, a TorchScript module):
 * an inert record of its class name, NEWOBJ arguments and BUILD state. No class is ever imported.
 */
export class PyObject {
	state: unknown;

	constructor(readonly className: string, readonly args: readonly unknown[]) {}
}

/** set / frozenset. */
export class PySet {
	constructor(readonly items: unknown[], readonly frozen: boolean) {}
}

/** What an allowed global resolves to: a factory that builds data, never code. */
export class PyCallable {
	constructor(
		readonly qualifiedName: string,
		/** REDUCE: `callable(*args)`. */
		readonly call: (args: readonly unknown[]) => unknown,
		/** NEWOBJ: `cls.__new__(cls, *args)`; defaults to `call`. */
		readonly construct?: (args: readonly unknown[]) => unknown,
		/** Anything the allow-list wants to attach (e.g. the dtype of a storage class). */
		readonly tag?: unknown,
	) {}
}

/** Objects that accept BUILD (`__setstate__`). */
export interface PyBuildable {
	setState(state: unknown): void;
}

function isBuildable(value: unknown): value is PyBuildable {
	return typeof value === 'object' && value !== null && typeof (value as Partial<PyBuildable>).setState === 'function';
}

/**
 * Thrown instead of a 'corrupt' error when a `partial` pickle runs off the end of the bytes it was
 * given: the caller reads more of the file and tries again (legacy checkpoints, whose pickle has
 * no length of its own).
 */
export class PickleNeedsMoreBytes extends Error {
	constructor() {
		super('the pickle continues past the bytes read so far');
	}
}

export interface UnpickleContext {
	/** The file, for messages. */
	readonly fileName: string;
	/**
	 * Resolves `module.name` to a data factory. Undefined means unknown: the global becomes an
	 * inert class whose NEWOBJ builds a PyObject record and whose REDUCE (a call) is refused
	 * ('unsafe-pickle-global'), so a whole pickled model reads as data and nothing runs.
	 */
	resolveGlobal(module: string, name: string): PyCallable | undefined;
	/** Resolves BINPERSID / PERSID (torch storages). */
	persistentLoad(pid: unknown): unknown;
	/** A hint appended to the refusal message for a given global, if any. */
	refusalHint?(qualifiedName: string): string;
	/** The bytes are a prefix of a longer stream: running off their end throws PickleNeedsMoreBytes. */
	readonly partial?: boolean;
	/** What the messages call the pickle (default `the pickle (data.pkl)`). */
	readonly pickleName?: string;
}

const inertTag = Symbol('inert class');

/** Integers wider than this many bytes (LONG4) are not data a checkpoint holds. */
const maxLongBytes = 1024;

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/**
 * Unpickles `bytes` with the context's allow-list. Errors: 'unsafe-pickle-global' for a
 * global outside the allow-list, 'corrupt' for malformed or unknown opcodes.
 */
export function unpickle(bytes: Uint8Array, context: UnpickleContext): unknown {
	return unpickleAt(bytes, 0, context).value;
}

/** Unpickles the pickle that starts at `start`; `end` is the offset just past its STOP. */
export function unpickleAt(bytes: Uint8Array, start: number, context: UnpickleContext): { value: unknown; end: number } {
	const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const end = bytes.length;
	const file = context.fileName;
	const what = context.pickleName ?? 'the pickle (data.pkl)';
	let pos = start;
	let stack: unknown[] = [];
	const marks: unknown[][] = [];
	const memo = new Map<number, unknown>();

	const corrupt = (problem: string): ModelFormatError => new ModelFormatError('corrupt', `${file}: ${what} ${problem} at byte ${pos}.`);
	const pastEnd = (problem: string): Error => (context.partial ? new PickleNeedsMoreBytes() : corrupt(problem));
	const need = (n: number): void => {
		if (n < 0) {
			throw corrupt('declares a negative length');
		}
		if (pos + n > end) {
			throw pastEnd('ends in the middle of an opcode');
		}
	};
	const u8 = (): number => {
		need(1);
		return bytes[pos++];
	};
	const u16 = (): number => {
		need(2);
		const v = view.getUint16(pos, true);
		pos += 2;
		return v;
	};
	const i32 = (): number => {
		need(4);
		const v = view.getInt32(pos, true);
		pos += 4;
		return v;
	};
	const u32 = (): number => {
		need(4);
		const v = view.getUint32(pos, true);
		pos += 4;
		return v;
	};
	const u64 = (): number => {
		need(8);
		const low = view.getUint32(pos, true);
		const high = view.getUint32(pos + 4, true);
		pos += 8;
		const v = high * 0x100000000 + low;
		if (!Number.isSafeInteger(v)) {
			throw corrupt('declares a length past its end');
		}
		if (pos + v > end) {
			throw pastEnd('declares a length past its end');
		}
		return v;
	};
	const take = (n: number): Uint8Array => {
		need(n);
		const out = bytes.subarray(pos, pos + n);
		pos += n;
		return out;
	};
	const line = (): string => {
		const stop = bytes.indexOf(0x0a, pos);
		if (stop < 0) {
			throw pastEnd('has a text opcode without a newline');
		}
		const text = latin1.decode(bytes.subarray(pos, stop));
		pos = stop + 1;
		return text.endsWith('\r') ? text.slice(0, -1) : text;
	};
	const pop = (): unknown => {
		if (stack.length === 0) {
			throw corrupt('pops an empty stack');
		}
		return stack.pop();
	};
	const top = (): unknown => {
		if (stack.length === 0) {
			throw corrupt('reads an empty stack');
		}
		return stack[stack.length - 1];
	};
	const popMark = (): unknown[] => {
		const items = stack;
		const previous = marks.pop();
		if (!previous) {
			throw corrupt('has no MARK to pop to');
		}
		stack = previous;
		return items;
	};
	const memoGet = (index: number): unknown => {
		if (!memo.has(index)) {
			throw corrupt(`reads memo slot ${index}, which was never written`);
		}
		return memo.get(index);
	};
	const inertClasses = new Map<string, PyCallable>();
	const global = (module: string, name: string): PyCallable => {
		const resolved = context.resolveGlobal(module, name);
		if (resolved) {
			return resolved;
		}
		const qualified = `${module}.${name}`;
		let inert = inertClasses.get(qualified);
		if (!inert) {
			// Calling it (REDUCE) is what runs code in a hostile pickle: refused. Instantiating it
			// (NEWOBJ, copyreg._reconstructor) then BUILD is how objects are pickled: a record.
			inert = new PyCallable(qualified, () => {
				const hint = context.refusalHint?.(qualified) ?? '';
				throw new ModelFormatError('unsafe-pickle-global', `${file}: the pickle asks to call ${qualified}, which is not data; refused (nothing was run).${hint ? ' ' + hint : ''}`);
			}, (args) => new PyObject(qualified, args), inertTag);
			inertClasses.set(qualified, inert);
		}
		return inert;
	};
	const callable = (value: unknown, opcode: string): PyCallable => {
		if (!(value instanceof PyCallable)) {
			throw corrupt(`applies ${opcode} to something that is not an allowed callable`);
		}
		return value;
	};
	const tupleArgs = (value: unknown, opcode: string): unknown[] => {
		if (!Array.isArray(value)) {
			throw corrupt(`gives ${opcode} arguments that are not a tuple`);
		}
		return value;
	};
	const setItems = (target: unknown, items: unknown[]): void => {
		if (items.length % 2 !== 0) {
			throw corrupt('has SETITEMS with an odd number of items');
		}
		if (!(target instanceof PyDict)) {
			throw corrupt('sets items on something that is not a dict');
		}
		for (let i = 0; i < items.length; i += 2) {
			target.map.set(items[i], items[i + 1]);
		}
	};
	const appendItems = (target: unknown, items: unknown[]): void => {
		if (Array.isArray(target)) {
			for (const item of items) {
				target.push(item);
			}
		} else if (target instanceof PySet && !target.frozen) {
			for (const item of items) {
				target.items.push(item);
			}
		} else {
			throw corrupt('appends to something that is not a list');
		}
	};

	while (true) {
		if (pos >= end) {
			throw pastEnd('ends without STOP');
		}
		const opcode = bytes[pos++];
		switch (opcode) {
			case 0x80: // PROTO
				if (u8() > 5) {
					throw new ModelFormatError('unsupported-format', `${file}: the pickle uses a protocol newer than 5.`);
				}
				break;
			case 0x95: // FRAME: a length prefix only; the opcodes inside are read as usual.
				u64();
				break;
			case 0x2e: // STOP
				if (stack.length !== 1 || marks.length !== 0) {
					throw corrupt('stops with an unbalanced stack');
				}
				return { value: stack[0], end: pos };
			case 0x28: // MARK
				marks.push(stack);
				stack = [];
				break;
			case 0x30: // POP
				if (stack.length > 0) {
					stack.pop();
				} else {
					popMark();
				}
				break;
			case 0x31: // POP_MARK
				popMark();
				break;
			case 0x32: // DUP
				stack.push(top());
				break;

			// Constants and numbers.
			case 0x4e: stack.push(null); break; // NONE
			case 0x88: stack.push(true); break; // NEWTRUE
			case 0x89: stack.push(false); break; // NEWFALSE
			case 0x4a: stack.push(i32()); break; // BININT
			case 0x4b: stack.push(u8()); break; // BININT1
			case 0x4d: stack.push(u16()); break; // BININT2
			case 0x8a: stack.push(decodeLong(take(u8()))); break; // LONG1
			case 0x8b: { // LONG4
				const n = i32();
				if (n < 0 || n > maxLongBytes) {
					throw corrupt(`has a ${n}-byte integer`);
				}
				stack.push(decodeLong(take(n)));
				break;
			}
			case 0x47: { // BINFLOAT (big-endian)
				need(8);
				stack.push(view.getFloat64(pos, false));
				pos += 8;
				break;
			}
			case 0x49: { // INT (text); "01"/"00" are True/False in protocol 0.
				const text = line();
				stack.push(text === '01' ? true : text === '00' ? false : parseIntText(text, corrupt));
				break;
			}
			case 0x4c: // LONG (text)
				stack.push(parseIntText(line().replace(/L$/, ''), corrupt));
				break;
			case 0x46: { // FLOAT (text)
				const value = Number(line());
				if (Number.isNaN(value)) {
					throw corrupt('has a malformed FLOAT');
				}
				stack.push(value);
				break;
			}

			// Strings and bytes.
			case 0x58: stack.push(utf8.decode(take(u32()))); break; // BINUNICODE
			case 0x8c: stack.push(utf8.decode(take(u8()))); break; // SHORT_BINUNICODE
			case 0x8d: stack.push(utf8.decode(take(u64()))); break; // BINUNICODE8
			case 0x54: { // BINSTRING (Python 2 str)
				const n = i32();
				stack.push(latin1.decode(take(n)));
				break;
			}
			case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING
			case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
			case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
			case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
			case 0x96: stack.push(take(u64()).slice()); break; // BYTEARRAY8

			// Containers.
			case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
			case 0x5d: stack.push([]); break; // EMPTY_LIST
			case 0x29: stack.push([]); break; // EMPTY_TUPLE
			case 0x8f: stack.push(new PySet([], false)); break; // EMPTY_SET
			case 0x85: stack.push([pop()]); break; // TUPLE1
			case 0x86: { // TUPLE2
				const b = pop();
				const a = pop();
				stack.push([a, b]);
				break;
			}
			case 0x87: { // TUPLE3
				const c = pop();
				const b = pop();
				const a = pop();
				stack.push([a, b, c]);
				break;
			}
			case 0x74: // TUPLE
			case 0x6c: { // LIST
				const items = popMark();
				stack.push(items);
				break;
			}
			case 0x64: { // DICT
				const items = popMark();
				const dict = new PyDict();
				setItems(dict, items);
				stack.push(dict);
				break;
			}
			case 0x91: { // FROZENSET
				const items = popMark();
				stack.push(new PySet(items, true));
				break;
			}
			case 0x61: { // APPEND
				const item = pop();
				appendItems(top(), [item]);
				break;
			}
			case 0x65: { // APPENDS
				const items = popMark();
				appendItems(top(), items);
				break;
			}
			case 0x90: { // ADDITEMS
				const items = popMark();
				const target = top();
				if (!(target instanceof PySet) || target.frozen) {
					throw corrupt('adds items to something that is not a set');
				}
				for (const item of items) {
					target.items.push(item);
				}
				break;
			}
			case 0x73: { // SETITEM
				const value = pop();
				const key = pop();
				setItems(top(), [key, value]);
				break;
			}
			case 0x75: { // SETITEMS
				const items = popMark();
				setItems(top(), items);
				break;
			}

			// Memo.
			case 0x71: memo.set(u8(), top()); break; // BINPUT
			case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
			case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
			case 0x70: memo.set(parseIntText(line(), corrupt) as number, top()); break; // PUT
			case 0x68: stack.push(memoGet(u8())); break; // BINGET
			case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
			case 0x67: stack.push(memoGet(parseIntText(line(), corrupt) as number)); break; // GET

			// Globals and object construction (allow-list only).
			case 0x63: { // GLOBAL "module\nname\n"
				const module = line();
				const name = line();
				stack.push(global(module, name));
				break;
			}
			case 0x93: { // STACK_GLOBAL
				const name = pop();
				const module = pop();
				if (typeof module !== 'string' || typeof name !== 'string') {
					throw corrupt('has STACK_GLOBAL with non-string names');
				}
				stack.push(global(module, name));
				break;
			}
			case 0x52: { // REDUCE
				const args = tupleArgs(pop(), 'REDUCE');
				const fn = callable(pop(), 'REDUCE');
				stack.push(fn.call(args));
				break;
			}
			case 0x81: { // NEWOBJ
				const args = tupleArgs(pop(), 'NEWOBJ');
				const cls = callable(pop(), 'NEWOBJ');
				stack.push((cls.construct ?? cls.call)(args));
				break;
			}
			case 0x92: { // NEWOBJ_EX (keyword arguments are not used by any allowed class)
				pop();
				const args = tupleArgs(pop(), 'NEWOBJ_EX');
				const cls = callable(pop(), 'NEWOBJ_EX');
				stack.push((cls.construct ?? cls.call)(args));
				break;
			}
			case 0x62: { // BUILD
				const state = pop();
				const target = top();
				if (isBuildable(target)) {
					target.setState(state);
				} else if (target instanceof PyDict) {
					target.attributes = state;
				} else if (target instanceof PyObject) {
					target.state = state;
				}
				// BUILD on plain values (a tensor's Python attributes) is state we do not need.
				break;
			}
			case 0x51: // BINPERSID
				stack.push(context.persistentLoad(pop()));
				break;
			case 0x50: // PERSID (text)
				stack.push(context.persistentLoad(line()));
				break;
			case 0x97: // NEXT_BUFFER
			case 0x98: // READONLY_BUFFER
				throw corrupt('uses out-of-band buffers, which a file cannot carry');
			case 0x82: // EXT1
			case 0x83: // EXT2
			case 0x84: // EXT4
				throw new ModelFormatError('unsafe-pickle-global', `${file}: the pickle asks for a copyreg extension code, which is not data; refused (nothing was run).`);
			default:
				pos--;
				throw corrupt(`has unknown opcode 0x${opcode.toString(16).padStart(2, '0')}`);
		}
	}
}

/** Little-endian two's complement (LONG1/LONG4) as a number when safe, else a bigint. */
function decodeLong(data: Uint8Array): number | bigint {
	if (data.length === 0) {
		return 0;
	}
	if (data.length <= 6) {
		let value = 0;
		for (let i = data.length - 1; i >= 0; i--) {
			value = value * 256 + data[i];
		}
		if (data[data.length - 1] & 0x80) {
			value -= 2 ** (8 * data.length);
		}
		return value;
	}
	let value = 0n;
	for (let i = data.length - 1; i >= 0; i--) {
		value = (value << 8n) | BigInt(data[i]);
	}
	if (data[data.length - 1] & 0x80) {
		value -= 1n << BigInt(8 * data.length);
	}
	return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function parseIntText(text: string, corrupt: (what: string) => Error): number | bigint {
	if (!/^[+-]?\d{1,400}$/.test(text)) {
		throw corrupt('has a malformed integer');
	}
	const value = BigInt(text);
	return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}
