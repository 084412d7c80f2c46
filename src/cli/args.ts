import { UsageError } from '../core/errors';

export interface OptionSpec {
	/** 'flag' takes no value; 'value' takes the next argument (or --name=value). */
	readonly type: 'flag' | 'value';
}

export interface ParsedArgs {
	readonly positionals: string[];
	readonly values: Map<string, string>;
	readonly flags: Set<string>;
}

/** Strict parser: an unknown option, a missing value or a repeated option is a UsageError. */
export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): ParsedArgs {
	const positionals: string[] = [];
	const values = new Map<string, string>();
	const flags = new Set<string>();
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === '--') {
			positionals.push(...argv.slice(i + 1));
			break;
		}
		if (!arg.startsWith('--') || arg === '-') {
			if (arg.startsWith('-') && arg !== '-' && !/^-\d/.test(arg)) {
				throw new UsageError(`unknown option '${arg}'.`);
			}
			positionals.push(arg);
			continue;
		}
		const eq = arg.indexOf('=');
		const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
		const option = spec[name];
		if (!option) {
			throw new UsageError(`unknown option '--${name}'.`);
		}
		if (values.has(name) || flags.has(name)) {
			throw new UsageError(`option '--${name}' is given twice.`);
		}
		if (option.type === 'flag') {
			if (eq >= 0) {
				throw new UsageError(`option '--${name}' takes no value.`);
			}
			flags.add(name);
			continue;
		}
		const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
		if (value === undefined || (eq < 0 && value.startsWith('--'))) {
			throw new UsageError(`option '--${name}' needs a value.`);
		}
		values.set(name, value);
	}
	return { positionals, values, flags };
}

/** A finite number option, or the default. */
export function numberOption(args: ParsedArgs, name: string, check: (n: number) => boolean = Number.isFinite): number | undefined {
	const text = args.values.get(name);
	if (text === undefined) {
		return undefined;
	}
	const value = Number(text);
	if (text.trim() === '' || !Number.isFinite(value) || !check(value)) {
		throw new UsageError(`option '--${name}' needs a valid number (got '${text}').`);
	}
	return value;
}
