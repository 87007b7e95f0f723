using NormSharp.Nn;
using static NormSharp.Onnx.Tests.OnnxRuntimeCheck;

namespace NormSharp.Onnx.Tests;

/// <summary>
/// LSTM and GRU as ONNX LSTM/GRU nodes (gates reordered, GRU with linear_before_reset = 1), run in ONNX Runtime at two
/// sizes of the first dimension: the batch for batch-first input, the sequence length for time-major input.
/// </summary>
public class RecurrentExportTests
{
    private static readonly Dictionary<string, (Func<Module> Create, int[] Shape, string Op)> Cases = new()
    {
        ["lstm time-major"] = (() => new LSTM(5, 4, generator: new Generator(1)), [6, 3, 5], "LSTM"),
        ["lstm batch-first"] = (() => new LSTM(5, 4, batchFirst: true, generator: new Generator(2)), [3, 6, 5], "LSTM"),
        ["lstm two layers time-major"] = (() => new LSTM(5, 4, numLayers: 2, generator: new Generator(3)), [6, 3, 5], "LSTM"),
        ["lstm two layers batch-first with dropout"] = (() => new LSTM(5, 7, numLayers: 2, batchFirst: true, dropout: 0.5, generator: new Generator(4)), [2, 6, 5], "LSTM"),
        ["lstm without bias"] = (() => new LSTM(5, 4, bias: false, batchFirst: true, generator: new Generator(5)), [3, 6, 5], "LSTM"),
        ["gru time-major"] = (() => new GRU(5, 4, generator: new Generator(6)), [6, 3, 5], "GRU"),
        ["gru batch-first"] = (() => new GRU(5, 4, batchFirst: true, generator: new Generator(7)), [3, 6, 5], "GRU"),
        ["gru two layers time-major"] = (() => new GRU(5, 4, numLayers: 2, generator: new Generator(8)), [6, 3, 5], "GRU"),
        ["gru two layers batch-first"] = (() => new GRU(5, 7, numLayers: 2, batchFirst: true, generator: new Generator(9)), [2, 6, 5], "GRU"),
        ["gru without bias"] = (() => new GRU(5, 4, bias: false, generator: new Generator(10)), [6, 3, 5], "GRU"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Recurrent_layer_runs_in_onnx_runtime_as_in_normsharp(string name)
    {
        var (create, shape, op) = Cases[name];
        var module = (RecurrentBase)create();
        var model = ExportAndCompare(module, shape);
        Assert.Equal(module.NumLayers, OpTypes(model).Count(o => o == op));
        if (op == "GRU")
        {
            Assert.All(model.Graph.Node.Where(n => n.OpType == "GRU"),
                node => Assert.Equal(1, node.Attribute.Single(a => a.Name == "linear_before_reset").I));
        }
    }

    [Fact]
    public void Sequence_model_with_a_linear_head_on_every_step_runs_in_onnx_runtime()
    {
        var model = new Sequential(
            new LSTM(3, 8, numLayers: 2, batchFirst: true, generator: new Generator(11)), new Tanh(),
            new Linear(8, 2, generator: new Generator(12)));
        var exported = ExportAndCompare(model, [4, 5, 3]);
        Assert.Equal(["Transpose", "LSTM", "Squeeze", "LSTM", "Squeeze", "Transpose", "Tanh", "MatMul", "Add", "Identity"], OpTypes(exported));
    }
}
