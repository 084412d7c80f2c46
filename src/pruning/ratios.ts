/**
 * Per-layer prune ratios (percent): the presets of docs/method.md §6.2, copied verbatim from the
 * reference's scripts and logs, and the matching of a ratio spec to a model's conv layers.
 */

import { UsageError } from '../core/errors';

/** A named ratio set for a known architecture, with the conv shapes (OIHW) it was made for. */
export interface RatioPreset {
	readonly id: string;
	/** One line for `--help` and the panel. */
	readonly description: string;
	/** One ratio (percent) per conv layer, in module order. */
	readonly ratios: readonly number[];
	/** Expected conv weight shapes (O, C, Kh, Kw), in module order. */
	readonly shapes: readonly (readonly number[])[];
	/** Expected module names where the architecture fixes them (torchvision); else absent. */
	readonly layerNames?: readonly string[];
}

// VGG11 for CIFAR-10 (REPO:custom_models_cifar_vgg.py): 8 convs 3×3, no BN (§2.7).
const vgg11CifarShapes: readonly (readonly number[])[] = [
	[64, 3, 3, 3], [128, 64, 3, 3], [256, 128, 3, 3], [256, 256, 3, 3],
	[512, 256, 3, 3], [512, 512, 3, 3], [512, 512, 3, 3], [512, 512, 3, 3],
];

// torchvision ResNet18: 20 convs in module order conv1, then per block conv1, conv2, downsample.0 (§2.7).
const resnet18Names: readonly string[] = [
	'conv1',
	'layer1.0.conv1', 'layer1.0.conv2', 'layer1.1.conv1', 'layer1.1.conv2',
	'layer2.0.conv1', 'layer2.0.conv2', 'layer2.0.downsample.0', 'layer2.1.conv1', 'layer2.1.conv2',
	'layer3.0.conv1', 'layer3.0.conv2', 'layer3.0.downsample.0', 'layer3.1.conv1', 'layer3.1.conv2',
	'layer4.0.conv1', 'layer4.0.conv2', 'layer4.0.downsample.0', 'layer4.1.conv1', 'layer4.1.conv2',
];
const resnet18Shapes: readonly (readonly number[])[] = [
	[64, 3, 7, 7],
	[64, 64, 3, 3], [64, 64, 3, 3], [64, 64, 3, 3], [64, 64, 3, 3],
	[128, 64, 3, 3], [128, 128, 3, 3], [128, 64, 1, 1], [128, 128, 3, 3], [128, 128, 3, 3],
	[256, 128, 3, 3], [256, 256, 3, 3], [256, 128, 1, 1], [256, 256, 3, 3], [256, 256, 3, 3],
	[512, 256, 3, 3], [512, 512, 3, 3], [512, 256, 1, 1], [512, 512, 3, 3], [512, 512, 3, 3],
];

// The Fashion-MNIST CNN of this project (python/crossbar_lens_train/models.py FashionCNN, examples/fashion-cnn.onnx):
// seven 3×3 convs, 16 → 128 channels, on 28×28×1 images.
const fashionCnnShapes: readonly (readonly number[])[] = [
	[16, 1, 3, 3], [32, 16, 3, 3], [32, 32, 3, 3], [64, 32, 3, 3], [64, 64, 3, 3], [128, 64, 3, 3], [128, 128, 3, 3],
];

/** The §6.2 ratio sets by id; `vgg11-cifar10` (prs A) and `resnet18-imagenet` give the headline results. */
export const ratioPresets: Readonly<Record<string, RatioPreset>> = {
	'vgg11-cifar10': {
		id: 'vgg11-cifar10',
		description: 'VGG11 / CIFAR-10, "prs A": every final DUB, Group Lasso+DB and S-DUB run (docs/method.md §6.2)',
		ratios: [2.37, 70, 75, 75, 90, 98.67, 99.84, 99.86],
		shapes: vgg11CifarShapes,
	},
	'vgg11-cifar10-lbl': {
		id: 'vgg11-cifar10-lbl',
		description: 'VGG11 / CIFAR-10, prs A as the LBL runs use it (2.38 for layer 0)',
		ratios: [2.38, 70, 75, 75, 90, 98.67, 99.84, 99.86],
		shapes: vgg11CifarShapes,
	},
	'vgg11-cifar10-prs-b': {
		id: 'vgg11-cifar10-prs-b',
		description: 'VGG11 / CIFAR-10, "prs B" (LBL runs only)',
		ratios: [50, 75, 75, 70, 90, 95, 99, 99.5],
		shapes: vgg11CifarShapes,
	},
	'vgg11-cifar10-prs-c': {
		id: 'vgg11-cifar10-prs-c',
		description: 'VGG11 / CIFAR-10, "prs C" (T=64 runs of Dec 2020)',
		ratios: [2.37, 11.83, 48.92, 48.23, 89.92, 98.67, 99.84, 99.86],
		shapes: vgg11CifarShapes,
	},
	'fashion-cnn': {
		id: 'fashion-cnn',
		description: 'FashionCNN / Fashion-MNIST at T=32: the ratios of npm run repro:fashion (chosen on a validation split; python/crossbar_lens_train/repro_fashion.py)',
		ratios: [0, 70, 80, 90, 97, 99, 99.7],
		shapes: fashionCnnShapes,
	},
	'resnet18-imagenet': {
		id: 'resnet18-imagenet',
		description: 'torchvision ResNet18 / ImageNet: DUB, Group Lasso+DB and LBL runs (docs/method.md §6.2)',
		ratios: [60, 60, 70, 55, 60, 60, 60, 50, 65, 65, 70, 70, 85, 75, 75, 65, 75, 70, 75, 75],
		shapes: resnet18Shapes,
		layerNames: resnet18Names,
	},
};

/** The preset of that id; an unknown id is a UsageError listing the known ones. */
export function ratioPreset(id: string): RatioPreset {
	if (!Object.hasOwn(ratioPresets, id)) {
		throw new UsageError(`Unknown ratio preset '${id}'; known: ${Object.keys(ratioPresets).join(', ')}.`);
	}
	return ratioPresets[id];
}

/** A layer as resolveRatios sees it; `kind` defaults to conv for 4-D shapes (OIHW order). */
export interface RatioLayer {
	readonly name: string;
	readonly shape: readonly number[];
	readonly kind?: 'conv' | 'linear';
}

/** How the user gives ratios: a preset id, one ratio per conv layer, or one ratio for all. */
export type RatioSpec = { readonly preset: string } | { readonly ratios: readonly number[] } | { readonly ratio: number };

/** A conv layer and the prune ratio (percent) it gets. */
export interface LayerRatio {
	readonly name: string;
	readonly ratio: number;
}

/**
 * Pairs each conv layer (in order) with its ratio. Presets also check the layer count and
 * every OIHW shape; a UsageError names the first layer that does not fit.
 */
export function resolveRatios(layers: readonly RatioLayer[], spec: RatioSpec): LayerRatio[] {
	const convs = layers.filter((layer) => (layer.kind ?? (layer.shape.length === 4 ? 'conv' : 'linear')) === 'conv');
	if (convs.length === 0) {
		throw new UsageError('The model has no convolution layers to prune.');
	}
	if ('ratio' in spec) {
		checkRatio(spec.ratio, 'The prune ratio');
		return convs.map((layer) => ({ name: layer.name, ratio: spec.ratio }));
	}
	if ('ratios' in spec) {
		if (spec.ratios.length !== convs.length) {
			throw new UsageError(`Got ${spec.ratios.length} prune ratios for ${convs.length} conv layers (${describeNames(convs)}).`);
		}
		return convs.map((layer, i) => {
			checkRatio(spec.ratios[i], `The prune ratio for ${layer.name}`);
			return { name: layer.name, ratio: spec.ratios[i] };
		});
	}
	const preset = ratioPreset(spec.preset);
	const common = Math.min(convs.length, preset.ratios.length);
	for (let i = 0; i < common; i++) {
		const expected = preset.shapes[i];
		const actual = convs[i].shape;
		if (!sameShape(actual, expected)) {
			const where = preset.layerNames ? ` (${preset.layerNames[i]})` : '';
			throw new UsageError(
				`Preset '${preset.id}' does not fit: conv layer #${i} '${convs[i].name}' has shape ${formatShape(actual)}, ` +
				`the preset expects ${formatShape(expected)}${where}.`,
			);
		}
	}
	if (convs.length > preset.ratios.length) {
		throw new UsageError(
			`Preset '${preset.id}' has ${preset.ratios.length} ratios but the model has ${convs.length} conv layers; ` +
			`'${convs[preset.ratios.length].name}' (conv #${preset.ratios.length}) has none.`,
		);
	}
	if (convs.length < preset.ratios.length) {
		const missing = preset.ratios.length - convs.length;
		const next = preset.layerNames ? `${preset.layerNames[convs.length]} ` : '';
		throw new UsageError(
			`Preset '${preset.id}' expects ${preset.ratios.length} conv layers but the model has ${convs.length}; ` +
			`${missing} missing after '${convs[convs.length - 1].name}', starting with ${next}${formatShape(preset.shapes[convs.length])}.`,
		);
	}
	return convs.map((layer, i) => ({ name: layer.name, ratio: preset.ratios[i] }));
}

function checkRatio(ratio: number, what: string): void {
	if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 100)) {
		throw new UsageError(`${what} must be a percentage in [0, 100], got ${ratio}.`);
	}
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
	return a.length === b.length && a.every((d, i) => d === b[i]);
}

function formatShape(shape: readonly number[]): string {
	return `(${shape.join(', ')})`;
}

function describeNames(layers: readonly RatioLayer[]): string {
	const names = layers.map((layer) => layer.name);
	return names.length <= 6 ? names.join(', ') : `${names.slice(0, 3).join(', ')}, …, ${names.slice(-2).join(', ')}`;
}
