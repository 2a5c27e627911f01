global using BpfSteer.Testing;
