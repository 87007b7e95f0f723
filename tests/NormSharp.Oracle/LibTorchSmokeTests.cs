using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace NormSharp.Oracle;

/// <summary>
/// Proves that libtorch loads from the patched copy in the build output (not from the NuGet cache)
/// and computes. If this fails, the PatchLibTorchSharp build step did not run.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class LibTorchSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public void Libtorch_loads_the_patched_glue_library_from_the_build_output()
    {
        output.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch {torch.__version__}");
        output.WriteLine($"libLibTorchSharp loaded from: {LibTorch.LoadedFrom}");
        Assert.StartsWith(AppContext.BaseDirectory, LibTorch.LoadedFrom, StringComparison.Ordinal);
        string folder = Path.GetDirectoryName(LibTorch.LoadedFrom)!;
        Assert.True(File.Exists(Path.Combine(folder, "libios_base_library_init_stub.so")),
            $"the stub library is missing beside {LibTorch.LoadedFrom}");
        Assert.Equal(1, torch.get_num_threads());
    }

    [Fact]
    public void Libtorch_batch_norm_normalizes_each_channel()
    {
        using var scope = torch.NewDisposeScope();
        const int n = 4, c = 3, h = 5, w = 5;
        var data = new Inputs(42).Normal(n * c * h * w, mean: 7, std: 3);
        var x = LibTorch.From(data, [n, c, h, w]);
        var runningMean = torch.zeros(c);
        var runningVar = torch.ones(c);

        var y = torch.nn.functional.batch_norm(x, runningMean, runningVar, weight: null, bias: null,
            training: true, momentum: 0.1, eps: 1e-5);

        var mean = LibTorch.ToDoubles(y.mean([0, 2, 3]));
        var variance = LibTorch.ToDoubles(y.var([0, 2, 3], unbiased: false));
        foreach (var m in mean)
        {
            Assert.InRange(m, -1e-5, 1e-5);
        }
        foreach (var v in variance)
        {
            Assert.InRange(v, 0.999, 1.0);
        }
        // Training also moves the running mean from 0 towards the batch mean (about 7).
        foreach (var m in LibTorch.ToDoubles(runningMean))
        {
            Assert.InRange(m, 0.5, 0.9);
        }
    }
}
