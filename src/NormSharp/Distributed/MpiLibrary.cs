using System.Runtime.InteropServices;

namespace NormSharp.Distributed;

/// <summary>
/// The few MPI functions the MPI backend calls, bound at run time from MPICH's shared library (never at build time, so
/// the library stays pure managed and MPI is needed only by <see cref="ProcessGroup.Mpi"/>). Handles and constants are
/// MPICH's ABI (mpi.h of MPICH 3.x/4.x, shared by its ABI-compatible derivatives): integers, not pointers.
/// </summary>
internal sealed unsafe class MpiLibrary
{
    public const int Success = 0;
    public const int CommWorld = 0x44000000;
    public const int Float = 0x4c00040a;
    public const int Double = 0x4c00080b;
    public const int Sum = 0x58000003;
    public const int ThreadSerialized = 2;
    public static readonly nint InPlace = -1;
    public static readonly nint StatusIgnore = 1;

    /// <summary>Environment variable naming the MPI library to load instead of the default candidates.</summary>
    public const string LibraryVariable = "NORMSHARP_MPI_LIBRARY";

    /// <summary>Tried in order: MPICH's runtime library (Debian package libmpich12), then the development symlinks.</summary>
    private static readonly string[] Candidates = ["libmpich.so.12", "libmpi.so.12", "libmpich.so", "libmpi.so"];

    private MpiLibrary(nint handle, string path)
    {
        Path = path;
        void* Bind(string name)
        {
            if (!NativeLibrary.TryGetExport(handle, name, out var address))
            {
                throw new EntryPointNotFoundException($"The MPI library {path} has no function {name}; NormSharp needs MPICH 3.2 or later (MPI-3).");
            }
            return (void*)address;
        }
        Initialized = (delegate* unmanaged<int*, int>)Bind("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Bind("MPI_Finalized");
        InitThread = (delegate* unmanaged<int*, nint*, int, int*, int>)Bind("MPI_Init_thread");
        FinalizeMpi = (delegate* unmanaged<int>)Bind("MPI_Finalize");
        CommRank = (delegate* unmanaged<int, int*, int>)Bind("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<int, int*, int>)Bind("MPI_Comm_size");
        AbortMpi = (delegate* unmanaged<int, int, int>)Bind("MPI_Abort");
        Iallreduce = (delegate* unmanaged<void*, void*, int, int, int, int, int*, int>)Bind("MPI_Iallreduce");
        Iallgather = (delegate* unmanaged<void*, int, int, void*, int, int, int, int*, int>)Bind("MPI_Iallgather");
        Ibcast = (delegate* unmanaged<void*, int, int, int, int, int*, int>)Bind("MPI_Ibcast");
        Ibarrier = (delegate* unmanaged<int, int*, int>)Bind("MPI_Ibarrier");
        Test = (delegate* unmanaged<int*, int*, nint, int>)Bind("MPI_Test");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Bind("MPI_Error_string");
        LibraryVersion = (delegate* unmanaged<byte*, int*, int>)Bind("MPI_Get_library_version");
    }

    public string Path { get; }

    public delegate* unmanaged<int*, int> Initialized { get; }

    public delegate* unmanaged<int*, int> Finalized { get; }

    public delegate* unmanaged<int*, nint*, int, int*, int> InitThread { get; }

    public delegate* unmanaged<int> FinalizeMpi { get; }

    public delegate* unmanaged<int, int*, int> CommRank { get; }

    public delegate* unmanaged<int, int*, int> CommSize { get; }

    public delegate* unmanaged<int, int, int> AbortMpi { get; }

    /// <summary>MPI_Iallreduce(sendbuf, recvbuf, count, datatype, op, comm, request*).</summary>
    public delegate* unmanaged<void*, void*, int, int, int, int, int*, int> Iallreduce { get; }

    /// <summary>MPI_Iallgather(sendbuf, sendcount, sendtype, recvbuf, recvcount, recvtype, comm, request*).</summary>
    public delegate* unmanaged<void*, int, int, void*, int, int, int, int*, int> Iallgather { get; }

    /// <summary>MPI_Ibcast(buffer, count, datatype, root, comm, request*).</summary>
    public delegate* unmanaged<void*, int, int, int, int, int*, int> Ibcast { get; }

    public delegate* unmanaged<int, int*, int> Ibarrier { get; }

    /// <summary>MPI_Test(request*, flag*, status*).</summary>
    public delegate* unmanaged<int*, int*, nint, int> Test { get; }

    public delegate* unmanaged<int, byte*, int*, int> ErrorString { get; }

    public delegate* unmanaged<byte*, int*, int> LibraryVersion { get; }

    /// <summary>Loads the MPI library named by <see cref="LibraryVariable"/>, or the first of the MPICH candidates found.</summary>
    /// <exception cref="DllNotFoundException">None could be loaded; the message says what to install.</exception>
    public static MpiLibrary Load()
    {
        var requested = Environment.GetEnvironmentVariable(LibraryVariable);
        string[] candidates = string.IsNullOrEmpty(requested) ? Candidates : [requested];
        foreach (var name in candidates)
        {
            if (NativeLibrary.TryLoad(name, out var handle))
            {
                return new MpiLibrary(handle, name);
            }
        }
        throw new DllNotFoundException(
            $"ProcessGroup.Mpi() needs MPICH's shared library and found none (tried {string.Join(", ", candidates)}). " +
            "On Debian or Ubuntu install it with `apt-get install mpich` (runtime library package libmpich12; libmpich-dev adds libmpi.so), " +
            $"start the ranks with `mpiexec -n N ...`, or set {LibraryVariable} to the path of an MPICH-compatible libmpi.");
    }

    /// <summary>The MPI implementation's version string (MPI_Get_library_version).</summary>
    public string Version()
    {
        var buffer = new byte[8192];
        int length;
        fixed (byte* text = buffer)
        {
            LibraryVersion(text, &length);
        }
        return System.Text.Encoding.ASCII.GetString(buffer, 0, Math.Clamp(length, 0, buffer.Length)).Trim('\0', ' ', '\n');
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> with MPI's error text unless <paramref name="code"/> is MPI_SUCCESS.</summary>
    public void Check(int code, string call)
    {
        if (code == Success)
        {
            return;
        }
        var buffer = new byte[512];
        int length;
        fixed (byte* text = buffer)
        {
            ErrorString(code, text, &length);
        }
        throw new InvalidOperationException(
            $"{call} failed with MPI error {code}: {System.Text.Encoding.ASCII.GetString(buffer, 0, Math.Clamp(length, 0, buffer.Length))}");
    }
}
