using System.Runtime.InteropServices;

namespace BpfSteer.Interop;

/// <summary>
/// libbpf 1.x (Debian's libbpf1). int-returning calls return a negative errno; pointer-returning calls
/// return NULL and set errno.
/// </summary>
internal static partial class Libbpf
{
    // enum bpf_prog_type
    internal const int BPF_PROG_TYPE_SK_SKB = 14;
    internal const int BPF_PROG_TYPE_SK_REUSEPORT = 21;

    // enum bpf_map_type
    internal const int BPF_MAP_TYPE_HASH = 1;
    internal const int BPF_MAP_TYPE_ARRAY = 2;
    internal const int BPF_MAP_TYPE_PERCPU_ARRAY = 6;
    internal const int BPF_MAP_TYPE_SOCKMAP = 15;
    internal const int BPF_MAP_TYPE_SOCKHASH = 18;
    internal const int BPF_MAP_TYPE_REUSEPORT_SOCKARRAY = 20;

    // enum bpf_attach_type
    internal const int BPF_SK_SKB_STREAM_PARSER = 4;
    internal const int BPF_SK_SKB_STREAM_VERDICT = 5;
    internal const int BPF_SK_SKB_VERDICT = 38;
    internal const int BPF_SK_REUSEPORT_SELECT = 39;
    internal const int BPF_SK_REUSEPORT_SELECT_OR_MIGRATE = 40;

    // bpf_map_update_elem flags
    internal const ulong BPF_ANY = 0;
    internal const ulong BPF_NOEXIST = 1;
    internal const ulong BPF_EXIST = 2;

    internal const uint BTF_KIND_FUNC = 12;

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_object__open_mem", SetLastError = true)]
    internal static unsafe partial SafeBpfObjectHandle ObjectOpenMem(byte* buffer, nuint size, nint opts);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_object__load")]
    internal static partial int ObjectLoad(SafeBpfObjectHandle obj);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_object__close")]
    internal static partial void ObjectClose(nint obj);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_object__find_program_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ObjectFindProgramByName(SafeBpfObjectHandle obj, string name);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_object__find_map_by_name", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint ObjectFindMapByName(SafeBpfObjectHandle obj, string name);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_program__fd")]
    internal static partial int ProgramFd(nint program);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_program__set_autoload")]
    internal static partial int ProgramSetAutoload(nint program, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_map__fd")]
    internal static partial int MapFd(nint map);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_map__key_size")]
    internal static partial uint MapKeySize(nint map);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_map__value_size")]
    internal static partial uint MapValueSize(nint map);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_map__set_max_entries")]
    internal static partial int MapSetMaxEntries(nint map, uint maxEntries);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_map_update_elem")]
    internal static unsafe partial int MapUpdateElem(SafeHandle mapFd, void* key, void* value, ulong flags);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_map_lookup_elem")]
    internal static unsafe partial int MapLookupElem(SafeHandle mapFd, void* key, void* value);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_map_delete_elem")]
    internal static unsafe partial int MapDeleteElem(SafeHandle mapFd, void* key);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_map_get_next_key")]
    internal static unsafe partial int MapGetNextKey(SafeHandle mapFd, void* key, void* nextKey);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_map_create", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int MapCreate(int mapType, string? name, uint keySize, uint valueSize, uint maxEntries, nint opts);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_prog_load", StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial int ProgLoad(int progType, string? name, string license, ulong* insns, nuint insnCount, nint opts);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "bpf_prog_attach")]
    internal static partial int ProgAttach(SafeHandle progFd, SafeHandle attachableFd, int attachType, uint flags);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "libbpf_probe_bpf_prog_type")]
    internal static partial int ProbeProgType(int progType, nint opts);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "libbpf_probe_bpf_map_type")]
    internal static partial int ProbeMapType(int mapType, nint opts);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "libbpf_num_possible_cpus")]
    internal static partial int NumPossibleCpus();

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "libbpf_set_print")]
    internal static partial nint SetPrint(nint printFn);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "btf__load_vmlinux_btf", SetLastError = true)]
    internal static partial SafeBtfHandle BtfLoadVmlinux();

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "btf__find_by_name_kind", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int BtfFindByNameKind(SafeBtfHandle btf, string name, uint kind);

    [LibraryImport(NativeLibraries.Libbpf, EntryPoint = "btf__free")]
    internal static partial void BtfFree(nint btf);
}

internal static partial class Libc
{
    [LibraryImport(NativeLibraries.Libc, EntryPoint = "vsnprintf")]
    internal static unsafe partial int VsnPrintf(byte* buffer, nuint size, byte* format, nint args);
}
