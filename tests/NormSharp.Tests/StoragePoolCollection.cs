namespace NormSharp.Tests;

/// <summary>
/// Tests that observe which array the process-wide <see cref="StoragePool"/> hands out next. They run alone, after the
/// parallel tests: another test's <c>GC.Collect</c> or disposals would otherwise push arrays onto the free lists between
/// a test's release and its next request (TensorDisposeTests failed 2 of 12 full runs that way).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StoragePoolCollection
{
    public const string Name = "StoragePool";
}
