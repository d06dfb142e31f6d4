import { IsNotEmpty, IsString } from 'class-validator';

export class AuthenticateDto {
  @IsString({ message: 'token must be a non-empty string' })
  @IsNotEmpty({ message: 'token must be a non-empty string' })
  token!: string;
}
