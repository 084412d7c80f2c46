/**
 * Pure pruning and regularizer math on weight matrices (dub-method.md §3, §4, §6, §8): no I/O,
 * no vscode. Inputs are always the reference's matrix M (O × K, row-major); callers convert layouts.
 */

export * from './tiles';
export * from './percentile';
export * from './dub';
export * from './unstructured';
export * from './ratios';
export * from './regularizer';
