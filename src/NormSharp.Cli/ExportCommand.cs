using System.CommandLine;
using NormSharp.Cli.Experiments;
using NormSharp.Onnx;
using NormSharp.Serialization;
using Spectre.Console;

namespace NormSharp.Cli;

/// <summary>Settings of <c>normsharp export</c>.</summary>
internal sealed record ExportSettings(string Checkpoint, ModelKind Model, NormKind Norm, string Output, int Opset = 17, bool FoldBatchNorm = false);

/// <summary>
/// <c>normsharp export</c>: loads a checkpoint written by <c>train</c> into the same architecture and writes it as an
/// ONNX model (<see cref="OnnxExport"/>) for 28 × 28 single-channel images, batch dimension symbolic, 10 classes.
/// </summary>
internal static class ExportCommand
{
    /// <summary>The input of the CLI's models: one 28 × 28 grey image (MNIST format), batch first.</summary>
    public static readonly int[] SampleShape = [1, 1, 28, 28];

    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A model.safetensors written by train.", HelpName = "PATH", Required = true };
        var model = CommonOptions.Model("mlp");
        var norm = new Option<string>("--norm") { Description = "The normalization the checkpoint was trained with.", DefaultValueFactory = _ => "batch", HelpName = "none|batch|layer|group|instance" };
        var output = new Option<string>("--out") { Description = "The ONNX file to write (replaced if it exists).", HelpName = "PATH", Required = true };
        var opset = new Option<int>("--opset")
        {
            Description = $"ONNX opset, {OnnxExportOptions.MinimumOpset} to {OnnxExportOptions.MaximumOpset}: 21 writes GroupNorm as one GroupNormalization node, 23 RMSNorm as RMSNormalization.",
            DefaultValueFactory = _ => 17,
        };
        var fold = new Option<bool>("--fold-batch-norm") { Description = "Fold each BatchNorm into the Conv2d or Linear before it (one node instead of two)." };
        var command = new Command("export", "Export a trained checkpoint to ONNX (runs in ONNX Runtime and other ONNX readers).")
        {
            checkpoint, model, norm, output, opset, fold,
        };
        command.SetAction(parse => CommonOptions.Guard(AnsiConsole.Console, () =>
        {
            Execute(new ExportSettings(
                parse.GetValue(checkpoint)!, Choices.ParseModel(parse.GetValue(model)!), Choices.ParseNorm(parse.GetValue(norm)!),
                parse.GetValue(output)!, parse.GetValue(opset), parse.GetValue(fold)), AnsiConsole.Console);
            return 0;
        }));
        return command;
    }

    /// <summary>Builds the model, loads the checkpoint strictly, exports it in evaluation mode; returns the file's full path.</summary>
    /// <exception cref="InvalidDataException">The checkpoint does not match the model and normalization named.</exception>
    public static string Execute(ExportSettings settings, IAnsiConsole console)
    {
        var model = Models.Create(settings.Model, settings.Norm, SampleShape[1..], classCount: 10, new Generator(0));
        Checkpoint.Load(settings.Checkpoint, model);
        model.Eval();
        var options = new OnnxExportOptions { Opset = settings.Opset, FoldBatchNorm = settings.FoldBatchNorm };
        OnnxExport.Save(model, Tensor.Zeros(SampleShape), settings.Output, options);
        var path = Path.GetFullPath(settings.Output);
        console.MarkupLine(
            $"Wrote {Markup.Escape(path)}: {Choices.Name(settings.Model)}, {Choices.Label(settings.Norm)}, opset {options.Opset}, IR version {options.IrVersion}, " +
            $"input \"{options.InputName}\" [[N, 1, 28, 28]], output \"{options.OutputName}\" [[N, 10]] logits{(settings.FoldBatchNorm ? ", batch norm folded" : "")}.");
        return path;
    }
}
