using System.Globalization;
using System.Text;
using TorchSharp;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace NormSharp.Oracle;

/// <summary>
/// Loads libtorch once for the whole suite and pins it to one intra-op thread, then, when the suite
/// ends, reports the largest error seen per layer (as an xunit diagnostic message and in
/// <c>oracle-summary.txt</c> beside the test assembly).
/// </summary>
/// <remarks>
/// <c>torch.set_num_threads</c> is process-wide, so it is set here, once, and every oracle test class
/// joins the <see cref="LibTorchCollection"/> (which also runs them one after another: the machines
/// this runs on have two cores). One thread gives libtorch a fixed reduction order, so a failure
/// reproduces exactly.
/// </remarks>
public sealed class LibTorchFixture : IDisposable
{
    private readonly IMessageSink diagnostics;
    private readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();

    /// <summary>Loads the natives; throws with a hint at the build step when they do not load.</summary>
    public LibTorchFixture(IMessageSink diagnostics)
    {
        this.diagnostics = diagnostics;
        LibTorch.EnsureLoaded();
        diagnostics.OnMessage(new DiagnosticMessage(
            $"NormSharp.Oracle: libtorch {torch.__version__} via TorchSharp {typeof(torch).Assembly.GetName().Version}, " +
            $"{torch.get_num_threads()} intra-op thread(s), natives from {LibTorch.LoadedFrom}"));
    }

    /// <summary>Writes the per-layer error summary.</summary>
    public void Dispose()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"NormSharp.Oracle: {ErrorLog.TotalCases} differential cases in {clock.Elapsed.TotalSeconds:F1} s; ");
        text.Append(CultureInfo.InvariantCulture,
            $"per tensor max |NormSharp - libtorch| <= {OracleCase.Tolerance:G} * max(1, max |libtorch|), libtorch in {OracleCase.OracleType}").AppendLine();
        text.Append(ErrorLog.Format());
        diagnostics.OnMessage(new DiagnosticMessage(text.ToString()));
        try
        {
            File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "oracle-summary.txt"), text.ToString());
        }
        catch (IOException)
        {
            // The summary is informational; a read-only output folder must not fail the suite.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>The one collection every oracle test class belongs to (see <see cref="LibTorchFixture"/>).</summary>
[CollectionDefinition(Name)]
public sealed class LibTorchCollection : ICollectionFixture<LibTorchFixture>
{
    /// <summary>The collection's name, for <c>[Collection(LibTorchCollection.Name)]</c>.</summary>
    public const string Name = "libtorch";
}
