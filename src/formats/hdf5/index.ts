/**
 * A read-only HDF5 reader (what h5py 3 / HDF5 1.10-1.14 write: Keras .h5 and model.weights.h5)
 * and an in-place patch writer for dataset values.
 */
export type { Hdf5Dataset, Hdf5File, Hdf5Group, Hdf5Object } from './api';
export type { Hdf5Type, Hdf5Value } from './datatype';
export { openHdf5 } from './file';
export type { Chunk, Filter, Layout } from './layout';
export { patchHdf5, patchedHdf5Bytes, planHdf5Patch, writePatchedHdf5 } from './patch';
export type { Hdf5PatchOutput, Hdf5PatchRange } from './patch';
