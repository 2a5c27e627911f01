namespace Transport.BpfSteer.Tests;

/// <summary>Which transport a <see cref="TestApp"/> runs on.</summary>
public enum TransportKind
{
    BpfSteer,
    Sockets,
}
