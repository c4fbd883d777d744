/* mpi_hello: Open MPI's fixed cost on its own, MPI_Init + a barrier + MPI_Finalize with no work
 * in between. bench/run launches it like jobrunner (mpirun -n 3) to show how much of jobrunner's
 * wall time is the MPI start-up and tear-down every MPI program pays. */
#include <mpi.h>

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Finalize();
  return 0;
}
