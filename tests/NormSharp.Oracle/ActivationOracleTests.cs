using static NormSharp.Oracle.Differential;
using static TorchSharp.torch;
using NormSharp.Functional;
using NormSharp.Nn;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>Activations (modules and functional) and elementwise unary ops against libtorch.</summary>
[Collection(LibTorchCollection.Name)]
public class ActivationOracleTests
{
    public static TheoryData<int, string, string> Cases()
    {
        var data = new TheoryData<int, string, string>();
        int seed = 500;
        var ops = new[] { "ReLU", "Sigmoid", "Tanh", "GELU", "F.Relu", "F.Gelu", "Exp", "Log", "Sqrt", "Abs", "Pow2", "Pow3", "Pow0.5", "Pow-1.5" };
        foreach (var op in ops)
        {
            foreach (var shape in new[] { "257", "4x3x5x5" })
            {
                data.Add(seed++, op, shape);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Unary_op_matches_libtorch(int seed, string op, string shape)
    {
        var check = new OracleCase(op, $"seed={seed} shape={shape}");
        var inputs = new Inputs(seed);
        bool positive = op is "Log" or "Sqrt" or "Pow0.5" or "Pow-1.5";
        var x = positive ? inputs.Rand(0.25, 4, Shape(shape)) : inputs.Randn(0, 3, Shape(shape));
        if (op is "ReLU" or "F.Relu" or "Abs")
        {
            // Exact zeros check the convention at the kink: PyTorch's gradient there is 0.
            var span = x.AsSpan();
            for (int i = 0; i < span.Length; i += 7)
            {
                span[i] = 0;
            }
        }
        Leaf(x);
        Func<Tensor, Tensor> ours = op switch
        {
            "ReLU" => t => new ReLU().Forward(t),
            "Sigmoid" => t => new Sigmoid().Forward(t),
            "Tanh" => t => new Tanh().Forward(t),
            "GELU" => t => new GELU().Forward(t),
            "F.Relu" => F.Relu,
            "F.Gelu" => F.Gelu,
            "Exp" => t => t.Exp(),
            "Log" => t => t.Log(),
            "Sqrt" => t => t.Sqrt(),
            "Abs" => t => t.Abs(),
            "Pow2" => t => t.Pow(2),
            "Pow3" => t => t.Pow(3),
            "Pow0.5" => t => t.Pow(0.5f),
            _ => t => t.Pow(-1.5f),
        };
        Func<TorchTensor, TorchTensor> theirs = op switch
        {
            "ReLU" or "F.Relu" => t => nn.functional.relu(t),
            "Sigmoid" => t => t.sigmoid(),
            "Tanh" => t => t.tanh(),
            "GELU" or "F.Gelu" => t => nn.functional.gelu(t),   // exact (erf) GELU, PyTorch's default
            "Exp" => t => t.exp(),
            "Log" => t => t.log(),
            "Sqrt" => t => t.sqrt(),
            "Abs" => t => t.abs(),
            "Pow2" => t => t.pow(2),
            "Pow3" => t => t.pow(3),
            "Pow0.5" => t => t.pow(0.5),
            _ => t => t.pow(-1.5),
        };
        ForwardBackward(check, inputs, [x], ["input"], t => ours(t[0]), t => theirs(t[0]));
    }
}
