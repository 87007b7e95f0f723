using System.Reflection;
using NormSharp.Data;

namespace NormSharp.Cli;

/// <summary>Training and test sets, and where they came from.</summary>
/// <param name="Train">The training set, standardized with its own pixel statistics.</param>
/// <param name="Test">The test set, standardized with the training statistics.</param>
/// <param name="Description">One line for the terminal and the report: which data, how many samples.</param>
/// <param name="Kind">"--data", "debian" or "embedded".</param>
internal sealed record LoadedData(Dataset Train, Dataset Test, string Description, string Kind, double Mean, double Std);

/// <summary>
/// Finds the data, in this order: <c>--data DIR</c>; Debian's <c>dataset-fashion-mnist</c> package
/// at <see cref="DebianDirectory"/>; the Fashion-MNIST subset embedded in this assembly
/// (6,000 training and 1,000 test images, Data/fashion-mnist-subset).
/// </summary>
/// <remarks>
/// A folder holds the four standard IDX files, raw or gzipped, named as on the MNIST and
/// Fashion-MNIST sites (<c>train-images-idx3-ubyte.gz</c> ...) or with a dot
/// (<c>train-images.idx3-ubyte</c>). Inputs are standardized with the training set's pixel mean and
/// standard deviation (Fashion-MNIST: 0.2860 and 0.3530), as torchvision's <c>Normalize</c>.
/// </remarks>
internal static class DataSource
{
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    private const string ResourcePrefix = "fashion-mnist-subset/";

    private static readonly string[] Stems = ["train-images", "train-labels", "t10k-images", "t10k-labels"];

    /// <summary>Loads the data; <paramref name="dataDirectory"/> (from --data) wins when given, and must then hold the files.</summary>
    /// <exception cref="FileNotFoundException">--data names a folder without the IDX files.</exception>
    /// <exception cref="InvalidDataException">A file is malformed.</exception>
    public static LoadedData Load(string? dataDirectory, string debianDirectory = DebianDirectory)
    {
        if (dataDirectory is not null)
        {
            var files = FindFiles(dataDirectory) ?? throw new FileNotFoundException(
                $"--data {dataDirectory}: expected the IDX files {string.Join(", ", Stems.Select(s => s + (s.EndsWith("images", StringComparison.Ordinal) ? "-idx3-ubyte[.gz]" : "-idx1-ubyte[.gz]")))} in that folder.");
            return FromFiles(files, $"--data {dataDirectory}", "--data");
        }
        if (FindFiles(debianDirectory) is { } debian)
        {
            return FromFiles(debian, $"Fashion-MNIST from Debian's dataset-fashion-mnist ({debianDirectory})", "debian");
        }
        return Embedded();
    }

    /// <summary>Whether <paramref name="directory"/> holds the four IDX files that <see cref="Load"/> would read, without reading them.</summary>
    public static bool HoldsDataSet(string directory) => FindFiles(directory) is not null;

    /// <summary>The embedded subset only.</summary>
    public static LoadedData Embedded()
    {
        var assembly = typeof(DataSource).Assembly;
        Stream Open(int i) => OpenResource(assembly, Stems[i]);
        using Stream trainImages = Open(0), trainLabels = Open(1), testImages = Open(2), testLabels = Open(3);
        return Build(
            IdxReader.ReadImages(trainImages, ResourcePrefix + "train-images"), IdxReader.ReadLabels(trainLabels, ResourcePrefix + "train-labels"),
            IdxReader.ReadImages(testImages, ResourcePrefix + "t10k-images"), IdxReader.ReadLabels(testLabels, ResourcePrefix + "t10k-labels"),
            "the Fashion-MNIST subset embedded in normsharp (install Debian's dataset-fashion-mnist or pass --data DIR for the full set)",
            "embedded");
    }

    private static Stream OpenResource(Assembly assembly, string stem)
    {
        string name = ResourcePrefix + stem + (stem.EndsWith("images", StringComparison.Ordinal) ? "-idx3-ubyte.gz" : "-idx1-ubyte.gz");
        return assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"The embedded resource {name} is missing from {assembly.GetName().Name}; the build did not embed Data/fashion-mnist-subset.");
    }

    private static string[]? FindFiles(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return null;
        }
        var found = new string[Stems.Length];
        for (int i = 0; i < Stems.Length; i++)
        {
            string kind = Stems[i].EndsWith("images", StringComparison.Ordinal) ? "idx3-ubyte" : "idx1-ubyte";
            string? file = new[] { $"{Stems[i]}-{kind}.gz", $"{Stems[i]}-{kind}", $"{Stems[i]}.{kind}.gz", $"{Stems[i]}.{kind}" }
                .Select(name => Path.Combine(directory, name))
                .FirstOrDefault(File.Exists);
            if (file is null)
            {
                return null;
            }
            found[i] = file;
        }
        return found;
    }

    private static LoadedData FromFiles(string[] files, string origin, string kind) => Build(
        IdxReader.ReadImages(files[0]), IdxReader.ReadLabels(files[1]),
        IdxReader.ReadImages(files[2]), IdxReader.ReadLabels(files[3]),
        origin, kind);

    private static LoadedData Build(IdxImages trainImages, int[] trainLabels, IdxImages testImages, int[] testLabels, string origin, string kind)
    {
        if ((testImages.Rows, testImages.Columns) != (trainImages.Rows, trainImages.Columns))
        {
            throw new InvalidDataException(
                $"Training images are {trainImages.Rows} × {trainImages.Columns} but test images are {testImages.Rows} × {testImages.Columns}.");
        }
        var (mean, std) = trainImages.PixelStatistics();
        if (std <= 0)
        {
            std = 1;
        }
        var train = Dataset.FromImages(trainImages, trainLabels, (float)mean, (float)std);
        var test = Dataset.FromImages(testImages, testLabels, (float)mean, (float)std);
        string description = $"{origin}: {train.Count:N0} training and {test.Count:N0} test images of {trainImages.Rows} × {trainImages.Columns}, {Math.Max(train.ClassCount, test.ClassCount)} classes";
        return new LoadedData(train, test, description, kind, mean, std);
    }
}
