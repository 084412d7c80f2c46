import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scanPythonSource, scannedLayerMatrix } from '../../../src/source/pythonScan';
import type { ScannedLayer } from '../../../src/source/pythonScan';

/** The fields a CodeLens shows, per layer, in order. */
function shapes(source: string): { line: number; kind: string; in?: number; out?: number; kernel?: readonly number[]; groups?: number; inferred?: boolean }[] {
	return scanPythonSource(source).layers.map((l: ScannedLayer) => ({
		line: l.line,
		kind: l.kind,
		...(l.inChannels !== undefined ? { in: l.inChannels } : {}),
		...(l.outChannels !== undefined ? { out: l.outChannels } : {}),
		...(l.kernel ? { kernel: l.kernel } : {}),
		...(l.groups !== 1 ? { groups: l.groups } : {}),
		...(l.inChannelsInferred ? { inferred: true } : {}),
	}));
}

void describe('Python layer scanner: PyTorch', () => {
	void it('reads positional literal arguments of nn.Conv2d and nn.Linear', () => {
		const source = [
			'import torch.nn as nn',
			'class Net(nn.Module):',
			'    def __init__(self):',
			'        super().__init__()',
			'        self.conv1 = nn.Conv2d(3, 64, 3, padding=1)',
			'        self.fc = nn.Linear(512, 10)',
		].join('\n');
		assert.deepEqual(shapes(source), [
			{ line: 4, kind: 'conv', in: 3, out: 64, kernel: [3, 3] },
			{ line: 5, kind: 'linear', in: 512, out: 10 },
		]);
	});

	void it('reads keyword arguments in any order, tuple and list kernels', () => {
		const source = [
			'from torch import nn',
			'a = nn.Conv2d(kernel_size=(5, 3), out_channels=128, in_channels=64)',
			'b = nn.Conv2d(16, out_channels=32, kernel_size=[1, 1], stride=2)',
			'c = nn.Linear(in_features=784, out_features=10, bias=False)',
		].join('\n');
		assert.deepEqual(shapes(source), [
			{ line: 1, kind: 'conv', in: 64, out: 128, kernel: [5, 3] },
			{ line: 2, kind: 'conv', in: 16, out: 32, kernel: [1, 1] },
			{ line: 3, kind: 'linear', in: 784, out: 10 },
		]);
	});

	void it('finds layers inside nn.Sequential, calls over several lines, and torch.nn.X / bare imported names', () => {
		const source = [
			'import torch',
			'from torch.nn import Conv2d, Linear as Dense',
			'features = torch.nn.Sequential(',
			'    torch.nn.Conv2d(',
			'        1,',
			'        32,',
			'        kernel_size=3,',
			'    ),',
			'    torch.nn.ReLU(),',
			'    Conv2d(32, 64, 3), Dense(64, 10))',
		].join('\n');
		assert.deepEqual(shapes(source), [
			{ line: 3, kind: 'conv', in: 1, out: 32, kernel: [3, 3] },
			{ line: 9, kind: 'conv', in: 32, out: 64, kernel: [3, 3] },
			{ line: 9, kind: 'linear', in: 64, out: 10 },
		]);
	});

	void it('ignores comments, strings, docstrings and f-strings', () => {
		const source = [
			'import torch.nn as nn',
			'# self.conv0 = nn.Conv2d(3, 8, 3)',
			'"""Docstring: nn.Conv2d(1, 2, 3)',
			'and nn.Linear(4, 5) on another line"""',
			"text = 'nn.Conv2d(9, 9, 9)'",
			'label = f"{nn.Linear(2, 2)}"',
			"raw = r'nn.Conv2d(1, 1, 1)'  # nn.Linear(3, 3)",
			'conv = nn.Conv2d(8, 16, 3)  # the only real one',
		].join('\n');
		assert.deepEqual(shapes(source), [{ line: 7, kind: 'conv', in: 8, out: 16, kernel: [3, 3] }]);
	});

	void it('reports non-literal arguments as unknown and keeps groups', () => {
		const source = [
			'import torch.nn as nn',
			'width = 64',
			'a = nn.Conv2d(width, 2 * width, 3)',
			'b = nn.Conv2d(32, 32, 3, groups=32)',
			'c = nn.Conv2d(32, 64, 3, 1, 1, 1, 4)',
		].join('\n');
		assert.deepEqual(shapes(source), [
			{ line: 2, kind: 'conv', kernel: [3, 3] },
			{ line: 3, kind: 'conv', in: 32, out: 32, kernel: [3, 3], groups: 32 },
			{ line: 4, kind: 'conv', in: 32, out: 64, kernel: [3, 3], groups: 4 },
		]);
		const [, depthwise, grouped] = scanPythonSource(source).layers;
		assert.deepEqual(scannedLayerMatrix(depthwise), [32, 9]);
		assert.deepEqual(scannedLayerMatrix(grouped), [64, 72]);
	});

	void it('does not take definitions, other frameworks or lookalikes for layers', () => {
		const source = [
			'def Conv2d(a, b, c): pass',
			'class Linear: pass',
			'x = Conv2d(1, 2, 3)',
			'y = mylib.Conv2d(1, 2, 3)',
			'z = nn.Conv1d(1, 2, 3)',
		].join('\n');
		assert.deepEqual(shapes(source), []);
	});

	void it('finds torch.save / torch.load with a literal path, not with an expression', () => {
		const source = [
			'import torch',
			'torch.save(model.state_dict(), "checkpoints/model.pt")',
			"state = torch.load('best.pth', map_location='cpu')",
			'torch.save(model, f=\'named.pt\')',
			'torch.save(model, path)',
			'torch.load(f"{run}/last.pt")',
			'# torch.save(model, "commented.pt")',
		].join('\n');
		assert.deepEqual(scanPythonSource(source).checkpoints, [
			{ line: 1, column: 0, kind: 'save', path: 'checkpoints/model.pt' },
			{ line: 2, column: 8, kind: 'load', path: 'best.pth' },
			{ line: 3, column: 0, kind: 'save', path: 'named.pt' },
		]);
	});
});

void describe('Python layer scanner: Keras', () => {
	void it('reads layers.Conv2D(32, (3, 3)) and infers input channels from the previous layer and Input', () => {
		const source = [
			'from tensorflow import keras',
			'from tensorflow.keras import layers',
			'model = keras.Sequential([',
			'    keras.Input(shape=(28, 28, 1)),',
			'    layers.Conv2D(32, (3, 3), activation="relu"),',
			'    layers.MaxPooling2D((2, 2)),',
			'    layers.Conv2D(filters=64, kernel_size=3),',
			'    layers.GlobalAveragePooling2D(),',
			'    layers.Dense(10),',
			'])',
		].join('\n');
		assert.deepEqual(shapes(source), [
			{ line: 4, kind: 'conv', in: 1, out: 32, kernel: [3, 3], inferred: true },
			{ line: 6, kind: 'conv', in: 32, out: 64, kernel: [3, 3], inferred: true },
			{ line: 8, kind: 'linear', in: 64, out: 10, inferred: true },
		]);
	});

	void it('handles bare imported Conv2D/Dense, input_shape, units= and unknown inputs after Flatten', () => {
		const source = [
			'from keras.layers import Conv2D, Dense, Flatten',
			'model.add(Conv2D(filters=32, kernel_size=3, input_shape=(32, 32, 3)))',
			'model.add(Flatten())',
			'model.add(Dense(units=128))',
			'model.add(Dense(10))',
		].join('\n');
		assert.deepEqual(shapes(source), [
			{ line: 1, kind: 'conv', in: 3, out: 32, kernel: [3, 3] },
			{ line: 3, kind: 'linear', out: 128 },
			{ line: 4, kind: 'linear', in: 128, out: 10, inferred: true },
		]);
	});

	void it('leaves the input channels of a first Conv2D without input shape unknown', () => {
		const source = ['import tensorflow as tf', 'c = tf.keras.layers.Conv2D(16, 5)'].join('\n');
		assert.deepEqual(shapes(source), [{ line: 1, kind: 'conv', out: 16, kernel: [5, 5] }]);
		assert.equal(scannedLayerMatrix(scanPythonSource(source).layers[0]), undefined);
	});
});

void describe('Python layer scanner: robustness', () => {
	void it('never throws on unterminated strings, unbalanced parentheses or empty input', () => {
		for (const source of ['', 'nn.Conv2d(3, 64', '"""open', "x = 'open\nnn.Conv2d(1, 2, 3)", ')))((( nn.Linear(', '\\\n\\']) {
			assert.doesNotThrow(() => scanPythonSource(source));
		}
		assert.deepEqual(shapes("import torch.nn as nn\nx = 'open\nc = nn.Conv2d(1, 2, 3)"), [{ line: 2, kind: 'conv', in: 1, out: 2, kernel: [3, 3] }]);
	});

	void it('scans a 5,000-line script', () => {
		const lines = ['import torch.nn as nn'];
		for (let i = 0; i < 5000; i++) lines.push(i % 10 === 0 ? `l${i} = nn.Conv2d(${i % 64 + 1}, 64, 3)  # layer ${i}` : `x = f(${i}, "s")`);
		assert.equal(scanPythonSource(lines.join('\n')).layers.length, 500);
	});
});
