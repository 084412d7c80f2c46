/**
 * Guessing the model factory of a training script, for the default of "Run D.U.B. fine-tune":
 * the PyTorch engine needs the architecture a checkpoint's state dict belongs to, as
 * `path/to/file.py:function` (a class with no required arguments works the same).
 */

/** A candidate factory in one Python source. */
export interface FactoryCandidate {
	/** The function or class name. */
	readonly name: string;
	readonly kind: 'function' | 'class';
	/** 1-based line. */
	readonly line: number;
	/** Higher first: build_model-style functions, then nn.Module classes without required arguments. */
	readonly score: number;
}

const factoryNames = /^(build|make|create|get|new|load)_?(model|net|network|cnn)$|^model_fn$|^(model|net)$/i;

/**
 * Top-level `def build_model(...)` / `make_model` / `create_model` / `get_model` functions and
 * `class X(nn.Module)` classes of a Python source, best first. Nested definitions, private names
 * and classes whose `__init__` needs arguments (other than num_classes) are left out.
 */
export function findModelFactories(source: string): FactoryCandidate[] {
	const lines = source.split(/\r?\n/);
	const found: FactoryCandidate[] = [];
	lines.forEach((line, i) => {
		const def = /^def\s+([A-Za-z_]\w*)\s*\(([^)]*)\)?/.exec(line);
		if (def && !def[1].startsWith('_') && factoryNames.test(def[1]) && !hasRequiredParameters(def[2] ?? '')) {
			found.push({ name: def[1], kind: 'function', line: i + 1, score: 3 });
			return;
		}
		const cls = /^class\s+([A-Za-z_]\w*)\s*\(([^)]*)\)\s*:/.exec(line);
		if (cls && !cls[1].startsWith('_') && /(^|[\s,])((torch\.)?nn\.)?Module\s*($|,)/.test(cls[2])) {
			const init = classInitParameters(lines, i);
			if (init === undefined || !hasRequiredParameters(init)) {
				found.push({ name: cls[1], kind: 'class', line: i + 1, score: 2 });
			}
		}
	});
	return found.sort((a, b) => b.score - a.score || a.line - b.line);
}

/** The parameter text of a class's `__init__` (undefined when it has none). */
function classInitParameters(lines: readonly string[], classLine: number): string | undefined {
	const indentOf = (s: string): number => /^\s*/.exec(s)![0].length;
	for (let j = classLine + 1; j < lines.length; j++) {
		const line = lines[j];
		if (line.trim() === '' || line.trim().startsWith('#')) continue;
		if (indentOf(line) === 0) return undefined; // the class ended
		const init = /^\s+def\s+__init__\s*\(/.exec(line);
		if (init) {
			// The signature may span lines: collect up to the closing parenthesis.
			let text = line.slice(init[0].length);
			for (let k = j + 1; !text.includes(')') && k < lines.length && k < j + 20; k++) text += ` ${lines[k]}`;
			return text.slice(0, text.indexOf(')') >= 0 ? text.indexOf(')') : undefined);
		}
	}
	return undefined;
}

/** True when a parameter list (without the parentheses) has a parameter without a default, other than self/cls, num_classes, *args and **kwargs. */
function hasRequiredParameters(params: string): boolean {
	return params.split(',').map((p) => p.trim()).filter((p) => p !== '').some((p) => {
		const name = p.split(/[:=]/)[0].trim();
		return !p.includes('=') && !['self', 'cls', 'num_classes', '*', '/'].includes(name) && !name.startsWith('*');
	});
}
