// NormSharp.Tensor and TorchSharp's torch.Tensor share a name; inside namespace NormSharp.Bench the bare name
// means NormSharp's, so libtorch's goes by this alias.
global using TorchTensor = TorchSharp.torch.Tensor;
