using NormSharp.Nn;
using static NormSharp.Onnx.Tests.OnnxRuntimeCheck;

namespace NormSharp.Onnx.Tests;

/// <summary>Each supported layer alone, exported and run in ONNX Runtime at two batch sizes.</summary>
public class LayerExportTests
{
    private static readonly Dictionary<string, (Func<Module> Create, int[] Shape, int Opset, string Op)> Cases = new()
    {
        ["linear"] = (() => new Linear(7, 5, generator: new Generator(1)), [3, 7], 17, "Gemm"),
        ["linear no bias"] = (() => new Linear(7, 5, bias: false, generator: new Generator(1)), [3, 7], 17, "Gemm"),
        ["linear on 3-D input"] = (() => new Linear(6, 4, generator: new Generator(1)), [2, 3, 6], 17, "MatMul"),
        ["conv"] = (() => new Conv2d(3, 4, 3, generator: new Generator(1)), [2, 3, 8, 8], 17, "Conv"),
        ["conv strided padded dilated grouped"] = (() => new Conv2d(4, 6, (3, 2), stride: (2, 1), padding: (1, 2), dilation: (2, 1), groups: 2, generator: new Generator(1)), [2, 4, 9, 7], 17, "Conv"),
        ["max pool"] = (() => new MaxPool2d(2), [2, 3, 8, 6], 17, "MaxPool"),
        ["max pool strided padded"] = (() => new MaxPool2d(3, stride: 2, padding: 1), [2, 3, 9, 8], 17, "MaxPool"),
        ["average pool padded"] = (() => new AvgPool2d(3, stride: 2, padding: 1), [2, 3, 9, 8], 17, "AveragePool"),
        ["global average pool"] = (() => new AvgPool2d((5, 4)), [2, 3, 5, 4], 17, "GlobalAveragePool"),
        ["relu"] = (() => new ReLU(), [4, 10], 17, "Relu"),
        ["sigmoid"] = (() => new Sigmoid(), [4, 10], 17, "Sigmoid"),
        ["tanh"] = (() => new Tanh(), [4, 10], 17, "Tanh"),
        ["gelu as erf formula"] = (() => new GELU(), [4, 10], 17, "Erf"),
        ["gelu opset 20"] = (() => new GELU(), [4, 10], 20, "Gelu"),
        ["flatten"] = (() => new Flatten(), [2, 3, 4, 5], 17, "Flatten"),
        ["flatten from 2"] = (() => new Flatten(2), [2, 3, 4, 5], 17, "Reshape"),
        ["dropout"] = (() => new Dropout(0.5), [4, 10], 17, "Identity"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Layer_runs_in_onnx_runtime_as_in_normsharp(string name)
    {
        var (create, shape, opset, op) = Cases[name];
        var model = ExportAndCompare(create(), shape, new OnnxExportOptions { Opset = opset });
        Assert.Contains(op, OpTypes(model));
    }

    [Fact]
    public void Sequential_of_layers_chains_them()
    {
        var model = new Sequential(
            new Conv2d(1, 4, 3, padding: 1, generator: new Generator(2)), new Tanh(), new AvgPool2d(2),
            new Flatten(), new Dropout(), new Linear(4 * 4 * 4, 3, generator: new Generator(3)), new Sigmoid());
        var exported = ExportAndCompare(model, [2, 1, 8, 8]);
        Assert.Equal(["Conv", "Tanh", "AveragePool", "Flatten", "Gemm", "Sigmoid", "Identity"], OpTypes(exported));
    }
}
