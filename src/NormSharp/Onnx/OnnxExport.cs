using Google.Protobuf;
using NormSharp.Nn;
using NormSharp.Onnx.Protobuf;

namespace NormSharp.Onnx;

/// <summary>
/// Exports a model to an ONNX file (a protobuf <c>ModelProto</c>) that ONNX Runtime and other ONNX readers run:
/// one forward pass of a sample input in evaluation mode is traced into a graph whose weights,
/// running statistics and layer settings are initializers and attributes.
/// </summary>
/// <remarks>
/// <para>Tracing: each library layer maps to ONNX nodes (<see cref="OnnxModuleExporters"/>); a
/// <see cref="Sequential"/> chains its children; any other module is traced through the operations its
/// <c>Forward</c> records (its library layers, identified by their parameters, plus Tensor +, −, ·, /, Reshape,
/// Flatten, Permute and the activations), which covers residual blocks. Anything else throws
/// <see cref="NotSupportedException"/> naming the operation and the module path.</para>
/// <para>The graph input is float32 of the sample's shape with a symbolic first (batch) dimension "N", so the file
/// runs at any batch size. Opset and IR version: <see cref="OnnxExportOptions"/> (default opset 17, IR 8).</para>
/// </remarks>
public static class OnnxExport
{
    /// <summary>Writes the ONNX model of <paramref name="model"/> to <paramref name="path"/> (atomically: temporary file, then rename).</summary>
    /// <param name="model">The model, in evaluation mode (<c>model.Eval()</c>).</param>
    /// <param name="sampleInput">An input of the shape the model will serve, batch dimension first, e.g. [1, 1, 28, 28].</param>
    /// <param name="path">The file to write, conventionally ending in .onnx.</param>
    /// <param name="options">Opset, BatchNorm folding, value names; default <see cref="OnnxExportOptions"/>.</param>
    /// <exception cref="InvalidOperationException">The model, or one of its modules, is in training mode.</exception>
    /// <exception cref="ArgumentException">The sample input has no batch dimension or does not fit the model.</exception>
    /// <exception cref="NotSupportedException">The model uses a layer or an operation that has no ONNX mapping.</exception>
    public static void Save(Module model, Tensor sampleInput, string path, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = Export(model, sampleInput, options);
        var full = Path.GetFullPath(path);
        var temporary = full + ".tmp-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>The ONNX model of <paramref name="model"/> as bytes (the content <see cref="Save"/> writes).</summary>
    /// <inheritdoc cref="Save" path="/param"/>
    /// <inheritdoc cref="Save" path="/exception"/>
    public static byte[] Export(Module model, Tensor sampleInput, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sampleInput);
        options ??= new OnnxExportOptions();
        if (options.Opset is < OnnxExportOptions.MinimumOpset or > OnnxExportOptions.MaximumOpset)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Opset,
                $"ONNX export writes opsets {OnnxExportOptions.MinimumOpset} to {OnnxExportOptions.MaximumOpset}, got opset {options.Opset}.");
        }
        var training = model.NamedModules().FirstOrDefault(m => m.Value.Training);
        if (training.Value is not null)
        {
            var where = training.Key.Length == 0 ? "The model" : $"Module '{training.Key}' ({training.Value.GetType().Name})";
            throw new InvalidOperationException(
                $"{where} is in training mode; ONNX export traces the evaluation forward (running statistics, no dropout). Call model.Eval() first.");
        }
        if (sampleInput.Rank == 0)
        {
            throw new ArgumentException(
                "The sample input must have a batch dimension first (e.g. [1, 1, 28, 28]), got a scalar of shape [].", nameof(sampleInput));
        }

        var graph = new OnnxGraphBuilder(options);
        graph.UniqueName(options.InputName);
        graph.UniqueName(options.OutputName);
        string output;
        Tensor outputValue;
        try
        {
            (output, outputValue) = OnnxTracer.Trace(graph, model, "", options.InputName, sampleInput);
        }
        catch (ArgumentException error)
        {
            throw new ArgumentException(
                $"The sample input of shape {ShapeUtil.Format(sampleInput.ShapeSpan)} does not fit the model: {error.Message}", nameof(sampleInput), error);
        }
        // The graph output is named as asked: an Identity node renames the last value (and covers an identity model).
        graph.AddIdentity(output, options.OutputName);
        graph.Graph.Input.Add(OnnxGraphBuilder.BatchedValue(options.InputName, sampleInput.ShapeSpan));
        graph.Graph.Output.Add(OnnxGraphBuilder.BatchedValue(options.OutputName, outputValue.ShapeSpan));

        var modelProto = new ModelProto
        {
            IrVersion = options.IrVersion,
            ProducerName = "NormSharp",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            DocString = $"Exported from {model.GetType().Name} in evaluation mode by NormSharp.Onnx.OnnxExport.",
            Graph = graph.Graph,
        };
        modelProto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = options.Opset });
        return modelProto.ToByteArray();
    }
}
