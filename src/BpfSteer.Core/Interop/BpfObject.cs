using System.Reflection;
using System.Runtime.InteropServices;
using static BpfSteer.Interop.Libbpf;

namespace BpfSteer.Interop;

/// <summary>
/// A libbpf object opened from an embedded resource ("bpf/NAME.bpf.o", see build/Bpf.targets), loaded into the
/// kernel. Disposing it closes every program and map fd it owns.
/// </summary>
internal sealed unsafe class BpfObject : IDisposable
{
    private readonly SafeBpfObjectHandle _handle;
    private readonly GCHandle _pinnedImage;

    private BpfObject(SafeBpfObjectHandle handle, GCHandle pinnedImage, string name)
    {
        _handle = handle;
        _pinnedImage = pinnedImage;
        Name = name;
    }

    public string Name { get; }

    public bool IsLoaded { get; private set; }

    /// <summary>Opens (does not load) the object embedded in <paramref name="assembly"/> as "bpf/<paramref name="name"/>.o".</summary>
    public static BpfObject OpenEmbedded(Assembly assembly, string name)
    {
        var resource = $"bpf/{name}.o";
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The BPF object '{resource}' is not embedded in {assembly.GetName().Name}. Was bpf/ built (build/Bpf.targets)?");
        var image = new byte[stream.Length];
        stream.ReadExactly(image);
        // libbpf keeps pointers into the image until load; pin it for the object's lifetime.
        var pin = GCHandle.Alloc(image, GCHandleType.Pinned);
        LibbpfLog.Install();
        var handle = ObjectOpenMem((byte*)pin.AddrOfPinnedObject(), (nuint)image.Length, 0);
        if (handle.IsInvalid)
        {
            var errno = Marshal.GetLastPInvokeError();
            pin.Free();
            throw ErrnoMap.ToException(errno, $"bpf_object__open_mem({name})");
        }
        return new BpfObject(handle, pin, name);
    }

    /// <summary>Sets max_entries of a map before load.</summary>
    public void SetMaxEntries(string map, uint maxEntries)
        => CheckLibbpf(MapSetMaxEntries(FindMap(map), maxEntries), $"bpf_map__set_max_entries({map})");

    /// <summary>Chooses whether a program is loaded (e.g. a kfunc variant on kernels that have the kfunc).</summary>
    public void SetAutoload(string program, bool autoload)
        => CheckLibbpf(ProgramSetAutoload(FindProgram(program), autoload), $"bpf_program__set_autoload({program})");

    /// <summary>Loads every program into the kernel (verifier runs here).</summary>
    public void Load()
    {
        LibbpfLog.Clear();
        var r = ObjectLoad(_handle);
        if (r < 0)
        {
            var ex = ErrnoMap.ToException(-r, $"bpf_object__load({Name})", "BPF programs");
            var log = LibbpfLog.Recent();
            throw log.Length == 0 ? ex : new NativeIOException(-r, ex.Message + " libbpf said: " + log);
        }
        IsLoaded = true;
    }

    /// <summary>The fd of a loaded program, borrowed: it stays valid until this object is disposed.</summary>
    public SafeFileDescriptorHandle ProgramFd(string program)
    {
        var fd = Libbpf.ProgramFd(FindProgram(program));
        CheckLibbpf(fd, $"bpf_program__fd({program})");
        return new SafeFileDescriptorHandle(fd, ownsHandle: false);
    }

    /// <summary>A map of the loaded object, borrowed: it stays valid until this object is disposed.</summary>
    public BpfMap Map(string map)
    {
        var handle = FindMap(map);
        var fd = MapFd(handle);
        CheckLibbpf(fd, $"bpf_map__fd({map})");
        return new BpfMap(map, new SafeFileDescriptorHandle(fd, ownsHandle: false), MapKeySize(handle), MapValueSize(handle));
    }

    private nint FindProgram(string program)
    {
        var p = ObjectFindProgramByName(_handle, program);
        return p != 0 ? p : throw new InvalidOperationException($"BPF object '{Name}' has no program '{program}'.");
    }

    private nint FindMap(string map)
    {
        var m = ObjectFindMapByName(_handle, map);
        return m != 0 ? m : throw new InvalidOperationException($"BPF object '{Name}' has no map '{map}'.");
    }

    internal static void CheckLibbpf(int ret, string operation)
    {
        if (ret < 0)
        {
            throw ErrnoMap.ToException(-ret, operation);
        }
    }

    public void Dispose()
    {
        _handle.Dispose();
        if (_pinnedImage.IsAllocated)
        {
            _pinnedImage.Free();
        }
    }
}
